// Who, where and which commit: read once per command from the process
// environment and the project's .git directory.
#include "notify/origin.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/text.hpp"
#include "history/history.hpp"

namespace moonshift::notify {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string first_line(const fs::path& file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    return text::trim(line);
}

bool is_sha(const std::string& s) {
    if (s.size() != 40 && s.size() != 64) return false;
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// The SHA a ref names: its loose file in the worktree's or the common git
// directory, else its line in packed-refs.
std::string resolve_ref(const fs::path& gitdir, const fs::path& common, const std::string& ref) {
    for (const auto& dir : {gitdir, common}) {
        std::error_code ec;
        if (fs::is_regular_file(dir / ref, ec)) {
            auto sha = first_line(dir / ref);
            if (is_sha(sha)) return sha;
        }
    }
    std::ifstream packed(common / "packed-refs");
    std::string line;
    while (std::getline(packed, line)) {
        if (line.empty() || line[0] == '#' || line[0] == '^') continue;
        auto space = line.find(' ');
        if (space != std::string::npos && text::trim(line.substr(space + 1)) == ref &&
            is_sha(line.substr(0, space)))
            return line.substr(0, space);
    }
    return {};
}

}  // namespace

git_head read_git_head(const fs::path& dir) {
    git_head out;
    std::error_code ec;
    fs::path at = fs::absolute(dir, ec);
    for (; !at.empty(); at = at.parent_path()) {
        fs::path dotgit = at / ".git";
        fs::path gitdir;
        if (fs::is_directory(dotgit, ec)) {
            gitdir = dotgit;
        } else if (fs::is_regular_file(dotgit, ec)) {
            // worktrees and submodules: "gitdir: <path>", relative to the file
            auto line = first_line(dotgit);
            if (line.rfind("gitdir:", 0) != 0) return out;
            gitdir = text::trim(line.substr(7));
            if (gitdir.is_relative()) gitdir = at / gitdir;
        }
        if (!gitdir.empty()) {
            out.top = at;
            fs::path common = gitdir;
            if (auto c = first_line(gitdir / "commondir"); !c.empty())
                common = fs::path(c).is_relative() ? gitdir / c : fs::path(c);
            auto head = first_line(gitdir / "HEAD");
            if (head.rfind("ref:", 0) == 0) {
                std::string ref = text::trim(head.substr(4));
                if (ref.rfind("refs/heads/", 0) == 0) out.branch = ref.substr(11);
                out.commit = resolve_ref(gitdir, common, ref);  // "" on a branch without commits
            } else if (is_sha(head)) {
                out.commit = head;
            }
            return out;
        }
        if (at == at.root_path()) break;
    }
    return out;
}

origin detect_origin(const fs::path& project_root) {
    origin o;
    if (const passwd* pw = getpwuid(geteuid()))
        o.user = pw->pw_name;
    else
        o.user = env("USER");
    o.actor = history::current_actor();
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) o.host = host;

    auto head = read_git_head(project_root);
    o.commit = head.commit;
    o.branch = head.branch;
    if (!head.top.empty()) {
        std::error_code ec;
        auto rel = fs::relative(fs::absolute(project_root, ec), head.top, ec).generic_string();
        o.project_dir = (ec || rel == ".") ? "" : rel;
    }

    if (env("GITHUB_ACTIONS") == "true") {
        o.ci = "github";
        o.ci_actor = env("GITHUB_ACTOR");
        std::string server = env("GITHUB_SERVER_URL"), repo = env("GITHUB_REPOSITORY");
        if (server.empty()) server = "https://github.com";
        if (o.commit.empty()) o.commit = env("GITHUB_SHA");
        if (o.branch.empty())
            o.branch =
                env("GITHUB_HEAD_REF").empty() ? env("GITHUB_REF_NAME") : env("GITHUB_HEAD_REF");
        if (!repo.empty()) {
            if (auto id = env("GITHUB_RUN_ID"); !id.empty())
                o.ci_url = server + "/" + repo + "/actions/runs/" + id;
            if (!o.commit.empty()) o.commit_url = server + "/" + repo + "/commit/" + o.commit;
        }
    } else if (env("GITLAB_CI") == "true") {
        o.ci = "gitlab";
        o.ci_actor = env("GITLAB_USER_LOGIN");
        o.ci_url = env("CI_JOB_URL");
        if (o.commit.empty()) o.commit = env("CI_COMMIT_SHA");
        if (o.branch.empty()) o.branch = env("CI_COMMIT_REF_NAME");
        if (auto project = env("CI_PROJECT_URL"); !project.empty() && !o.commit.empty())
            o.commit_url = project + "/-/commit/" + o.commit;
    } else if (env("CI") == "true" || env("CI") == "1") {
        o.ci = "ci";
    }
    return o;
}

}  // namespace moonshift::notify
