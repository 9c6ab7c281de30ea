// moonshift's own modules (moonshift-web.so, moonshift-pq.so): shared objects
// loaded on first use, found beside the binary (the build tree) or under
// `module_dir` relative to it (an installed binary: ../lib/moonshift).
#pragma once
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <string>

namespace moonshift::modules {

// The directory of the running binary ("." when /proc is not mounted).
inline std::string own_directory() {
    char buf[PATH_MAX];
    auto n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string path(buf, static_cast<std::size_t>(n));
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

// dlopen(RTLD_NOW | RTLD_LOCAL) of `file` from the first of the two places
// that has it; nullptr with `failure` saying why (not found: where it looked).
inline void* open(const std::string& file, const std::string& module_dir, std::string& failure) {
    const auto dir = own_directory();
    std::string tried;
    for (const auto& path : {dir + "/" + file, dir + "/" + module_dir + "/" + file}) {
        if (access(path.c_str(), R_OK) != 0) {
            tried += (tried.empty() ? "" : ", ") + path;
            continue;
        }
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char* why = dlerror();
            failure = path + ": " + (why ? why : "cannot be loaded");
        }
        return h;
    }
    failure = "not found (looked for " + tried + ")";
    return nullptr;
}

// dlopen(RTLD_NOW | RTLD_LOCAL) of a system library by its soname (libcurl,
// libpg_query: loaded when first needed); nullptr with `failure` saying why.
inline void* open_system(const char* soname, std::string& failure) {
    void* h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* why = dlerror();
        failure = why ? why : std::string(soname) + " not found";
    }
    return h;
}

// Looks up `name` in a library loaded with dlopen; a missing symbol is added
// to `missing` (comma-separated) for one message naming them all.
template <class F>
void bind(void* handle, F& f, const char* name, std::string& missing) {
    f = reinterpret_cast<F>(dlsym(handle, name));
    if (!f) missing += std::string(missing.empty() ? "" : ", ") + name;
}

}  // namespace moonshift::modules
