// The Debian package on the machine the suite runs on: tools/package builds it from the built
// binary, dpkg installs it (apt-get -f for missing dependencies), and examples/quickstart and a
// fresh `moonshift init` project run with /usr/bin/moonshift from directories outside the
// checkout. Runs as root only; a package that was not installed before is removed after.
#include <sys/file.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <sstream>

#include "support/project.hpp"
#include "support/skip.hpp"

using namespace moonshift::test;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::string text_trim_last_line(const std::string& out) {
    std::string last;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) last = l;
    return last;
}

std::string why_not() {
    if (geteuid() != 0) return "installing a .deb needs root (the suite runs as root in CI)";
    if (!fs::exists("/usr/bin/dpkg") || !fs::exists("/usr/bin/dpkg-deb"))
        return "dpkg is missing: not a Debian machine";
    if (!fs::exists("/usr/bin/dpkg-shlibdeps"))
        return "dpkg-shlibdeps is missing (apt-get install dpkg-dev; tools/install-deps does)";
    if (!fs::exists("/usr/bin/cpack")) return "cpack is missing (apt-get install cmake)";
    return "";
}

// Two runs of the suite on one machine take turns: the package is machine-wide.
struct machine_lock {
    int fd = ::open("/tmp/moonshift-package-test.lock", O_CREAT | O_RDWR, 0644);
    machine_lock() {
        if (fd >= 0) ::flock(fd, LOCK_EX);
    }
    ~machine_lock() {
        if (fd >= 0) ::close(fd);
    }
};

bool package_installed() {
    auto r = run_program("/usr/bin/dpkg-query", {"-W", "-f=${Status}", "moonshift"}, "/");
    return r.exit_code == 0 && contains(r.out, "install ok installed");
}

// Removes the package at the end unless it was there before the test.
struct uninstall_after {
    bool keep = package_installed();
    ~uninstall_after() {
        if (keep) return;
        auto r = run_program("/usr/bin/dpkg", {"--purge", "moonshift"}, "/");
        if (r.exit_code != 0) BOOST_TEST_MESSAGE("dpkg --purge moonshift: " << r.err);
    }
};

cli_result installed(const std::vector<std::string>& args, const fs::path& cwd,
                     const std::string& url) {
    std::vector<std::string> a = {"--no-color"};
    a.insert(a.end(), args.begin(), args.end());
    return run_program("/usr/bin/moonshift", a, cwd, {{"MOONSHIFT_URL", url}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(install_package)

BOOST_AUTO_TEST_CASE(the_deb_installs_and_runs_the_quickstart_from_anywhere,
                     *boost::unit_test::precondition(skip_when{why_not})) {
    fresh_db quick, fresh;
    machine_lock lock;
    const fs::path build = fs::path(MOONSHIFT_BIN).parent_path();
    const fs::path source = MOONSHIFT_SOURCE_DIR;

    auto pkg = run_program("/bin/bash", {(source / "tools/package").string()}, source,
                           {{"BUILD_DIR", build.string()}}, std::chrono::seconds(900));
    BOOST_REQUIRE_MESSAGE(pkg.exit_code == 0, "tools/package failed:\n" << pkg.out << pkg.err);
    const std::string deb = text_trim_last_line(pkg.out);
    BOOST_TEST(fs::path(deb).filename().string().rfind("moonshift_", 0) == 0, deb);
    BOOST_TEST(contains(deb, "_amd64.deb"), deb);
    BOOST_REQUIRE(fs::exists(deb));

    // Depends computed from the binary's libraries, not written by hand.
    auto depends = run_program("/usr/bin/dpkg-deb", {"-f", deb, "Depends"}, "/").out;
    BOOST_TEST(contains(depends, "libpq5"), depends);
    BOOST_TEST(contains(depends, "libluajit"), depends);
    BOOST_TEST(contains(depends, "libc6"), depends);
    auto files = run_program("/usr/bin/dpkg-deb", {"-c", deb}, "/").out;
    for (std::string f : {"./usr/bin/moonshift", "./usr/share/man/man1/moonshift.1.gz",
                          "./usr/share/bash-completion/completions/moonshift",
                          "./usr/share/zsh/vendor-completions/_moonshift",
                          "./usr/share/fish/vendor_completions.d/moonshift.fish",
                          "./usr/share/doc/moonshift/changelog.Debian.gz"})
        BOOST_TEST(contains(files, f), "the package lacks " << f << ":\n" << files);

    uninstall_after cleanup;
    auto inst = run_program("/usr/bin/dpkg", {"-i", deb}, "/", {}, std::chrono::seconds(300));
    if (inst.exit_code != 0) {  // dependencies missing: apt-get brings them and configures it
        auto fix = run_program("/usr/bin/apt-get", {"-f", "install", "-y", "-qq"}, "/",
                               {{"DEBIAN_FRONTEND", "noninteractive"}}, std::chrono::seconds(600));
        BOOST_REQUIRE_MESSAGE(fix.exit_code == 0,
                              "dpkg -i: " << inst.err << "\napt-get -f: " << fix.out << fix.err);
    }
    BOOST_REQUIRE(package_installed());
    auto sections = run_program("/usr/bin/readelf", {"-S", "/usr/bin/moonshift"}, "/");
    BOOST_TEST(sections.exit_code == 0, sections.err);
    BOOST_TEST(!contains(sections.out, ".debug_info"), "the installed binary is stripped");

    // The quickstart, copied outside the checkout, with the installed binary only.
    temp_dir work;
    fs::copy(source / "examples/quickstart", work.path / "quickstart", fs::copy_options::recursive);
    fs::remove_all(work.path / "quickstart/.moonshift");
    auto up = installed({"up"}, work.path / "quickstart", quick.url);
    BOOST_TEST(up.exit_code == 0, up.out << up.err);
    BOOST_TEST(contains(up.out, "Applied"), up.out);
    auto st = installed({"status", "--exit-code"}, work.path / "quickstart", quick.url);
    BOOST_TEST(st.exit_code == 0, st.out << st.err);
    auto down = installed({"down", "--steps", "1"}, work.path / "quickstart", quick.url);
    BOOST_TEST(down.exit_code == 0, down.out << down.err);

    // A new project anywhere: init, new, up.
    fs::create_directories(work.path / "fresh");
    auto init = installed({"init"}, work.path / "fresh", fresh.url);
    BOOST_TEST(init.exit_code == 0, init.out << init.err);
    auto made = installed({"new", "create_things"}, work.path / "fresh", fresh.url);
    BOOST_REQUIRE_MESSAGE(made.exit_code == 0, made.out << made.err);
    for (auto& e : fs::directory_iterator(work.path / "fresh/migrations"))
        if (contains(e.path().filename().string(), "create_things") &&
            !contains(e.path().filename().string(), ".down."))
            write_file(e.path(), "CREATE TABLE things (id int);\n");
    auto fresh_up = installed({"up"}, work.path / "fresh", fresh.url);
    BOOST_TEST(fresh_up.exit_code == 0, fresh_up.out << fresh_up.err);
    pqxx::connection c(fresh.url);
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec1("SELECT to_regclass('things') IS NOT NULL")[0].as<bool>());
}

BOOST_AUTO_TEST_CASE(the_completions_know_every_command) {
    temp_dir d;
    auto help = run_cli({"--help"}, d.path);
    BOOST_REQUIRE(help.exit_code == 0);
    const fs::path source = MOONSHIFT_SOURCE_DIR;
    std::vector<std::string> files = {read_file(source / "completions/moonshift.bash"),
                                      read_file(source / "completions/_moonshift"),
                                      read_file(source / "completions/moonshift.fish"),
                                      read_file(source / "man/moonshift.1")};
    // The commands as `moonshift --help` lists them: "  name   description".
    std::istringstream in(help.out.substr(help.out.find("Subcommands:")));
    int seen = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.size() < 3 || line[0] != ' ' || line[2] == ' ') continue;
        std::string cmd = line.substr(2, line.find(' ', 2) - 2);
        ++seen;
        for (auto& f : files)
            BOOST_TEST(contains(f, cmd), "a completion file or the man page lacks " << cmd);
    }
    BOOST_TEST(seen > 20, help.out);
    auto syntax =
        run_program("/bin/bash", {"-n", (source / "completions/moonshift.bash").string()}, d.path);
    BOOST_TEST(syntax.exit_code == 0, "bash completion: " << syntax.err);
}

BOOST_AUTO_TEST_SUITE_END()
