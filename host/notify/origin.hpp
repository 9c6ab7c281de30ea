// Where a run comes from, for the `run` object of every event: the person
// and the CI job that started it, and the git commit of the project.
#pragma once
#include <filesystem>
#include <string>

namespace moonshift::notify {

struct git_head {
    std::string commit;         // full SHA, "" when unknown
    std::string branch;         // "" when HEAD is detached or unknown
    std::filesystem::path top;  // the checkout's top directory, "" when not in one
};

// Reads HEAD of the checkout holding dir (searching upwards) from .git
// itself: loose refs, packed-refs, `.git` files of worktrees and submodules.
// No git binary is needed; an unreadable repository yields an empty result.
git_head read_git_head(const std::filesystem::path& dir);

struct origin {
    std::string user;      // the OS user
    std::string actor;     // "alice (ci: octocat)", as recorded in moonshift.runs
    std::string ci;        // "github", "gitlab" or "ci" (CI=true); "" outside CI
    std::string ci_actor;  // GITHUB_ACTOR / GITLAB_USER_LOGIN
    std::string ci_url;    // the CI job's page, when the CI names it
    std::string commit;    // from .git, else the CI's variables
    std::string branch;
    std::string commit_url;   // the commit's page, when the CI names the repository
    std::string project_dir;  // the project's directory relative to the checkout ("" = its top)
    std::string host;         // this machine's name
};

origin detect_origin(const std::filesystem::path& project_root);

}  // namespace moonshift::notify
