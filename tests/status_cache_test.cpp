// `status` keeps what it found in the migrations folder in a cache (catalog/summary.cpp), so
// that a thousand unchanged files are not read again. The cache must never hide a change:
// these tests change files behind its back in the ways that keep a file's size and even its
// mtime, add and remove files, spoil the cache file, and check that status sees each at once.
#include <fcntl.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::temp_dir;
namespace fs = std::filesystem;

namespace {

struct cached_project : project {
    temp_dir cache;
    cached_project() {
        migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
        migration("002_notes.sql", "CREATE TABLE notes (id int PRIMARY KEY);\n");
        migration("002_notes.down.sql", "DROP TABLE notes;\n");
        BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    }
    fs::path file(const std::string& name) const { return dir.path / "migrations" / name; }
    moonshift::test::cli_result status() const {
        return ms({"--json", "status"}, {{"XDG_CACHE_HOME", cache.path.string()}});
    }
    // The cache files written so far.
    std::vector<fs::path> cache_files() const {
        std::vector<fs::path> out;
        if (fs::is_directory(cache.path / "moonshift"))
            for (auto& e : fs::directory_iterator(cache.path / "moonshift"))
                out.push_back(e.path());
        return out;
    }
    // A status that writes the cache: the files are older than the two seconds in which a
    // change could leave a file's stat as it was, so the cache is written.
    void settle() const {
        std::this_thread::sleep_for(std::chrono::milliseconds(2100));
        auto r = status();
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out + r.err);
        BOOST_REQUIRE_EQUAL(cache_files().size(), 1u);
    }
    std::string state_of(const moonshift::test::cli_result& r, const std::string& version) const {
        auto j = last_json(r.out);
        for (auto& m : j["migrations"])
            if (m["version"] == version) return m["state"];
        return "absent";
    }
};

void write_keeping_mtime(const fs::path& p, const std::string& content) {
    struct stat before {};
    BOOST_REQUIRE(::stat(p.c_str(), &before) == 0);
    moonshift::test::write_file(p, content);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    BOOST_REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, 0) == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_cache)

BOOST_FIXTURE_TEST_CASE(a_file_changed_behind_the_cache_is_seen_at_once, cached_project) {
    settle();
    // The same size and the old mtime put back: only the ctime says it changed.
    write_keeping_mtime(file("001_users.sql"), "CREATE TABLE users (id int PRIMARY KEX);\n");
    auto r = status();
    BOOST_TEST(r.exit_code == 5, r.out + r.err);  // an applied file changed
    BOOST_TEST(state_of(r, "001") == "changed", r.out);
    write_keeping_mtime(file("001_users.sql"), "CREATE TABLE users (id int PRIMARY KEY);\n");
    r = status();
    BOOST_TEST(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(state_of(r, "001") == "applied", r.out);
}

BOOST_FIXTURE_TEST_CASE(files_added_removed_and_renamed_are_seen_at_once, cached_project) {
    settle();
    migration("003_tags.sql", "CREATE TABLE tags (id int PRIMARY KEY);\n");
    auto r = status();
    BOOST_TEST(state_of(r, "003") == "pending", r.out);
    fs::rename(file("003_tags.sql"), file("004_tags.sql"));
    r = status();
    BOOST_TEST(state_of(r, "003") == "absent", r.out);
    BOOST_TEST(state_of(r, "004") == "pending", r.out);
    fs::remove(file("004_tags.sql"));
    fs::remove(file("002_notes.sql"));
    fs::remove(file("002_notes.down.sql"));
    r = status();
    BOOST_TEST(state_of(r, "004") == "absent", r.out);
    BOOST_TEST(state_of(r, "002") == "missing", r.out);
    // A bad file is the same error with a cache as without one.
    migration("005_x.sql", "");
    r = status();
    BOOST_TEST(r.exit_code == 2, r.out + r.err);
    BOOST_TEST(r.err.find("005_x.sql") != std::string::npos, r.err);
}

BOOST_FIXTURE_TEST_CASE(an_unchanged_folder_is_not_read_again, cached_project) {
    settle();
    // Proof that status took the cache and not the files: a checksum changed in the cache
    // alone (its signature still holds) is what status reports.
    auto cached = cache_files().front();
    auto text = moonshift::test::read_file(cached);
    auto line = text.find("\nm\t002\t");  // m, version, name, kind, up, down, labels, …
    BOOST_REQUIRE(line != std::string::npos);
    auto sum = line;
    for (int i = 0; i < 9 && sum != std::string::npos; ++i) sum = text.find('\t', sum + 1);
    BOOST_REQUIRE(sum != std::string::npos);
    BOOST_REQUIRE_EQUAL(text.find('\t', sum + 1) - sum - 1, 64u);  // the checksum, in hex
    text.replace(sum + 1, 64, std::string(64, '0'));
    moonshift::test::write_file(cached, text);
    auto r = status();
    BOOST_TEST(state_of(r, "002") == "changed", r.out);
    // Any change to a file's inode (here only its mode) and the folder is read again.
    fs::permissions(file("002_notes.sql"), fs::perms::owner_exec, fs::perm_options::add);
    r = status();
    BOOST_TEST(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(state_of(r, "002") == "applied", r.out);
}

BOOST_FIXTURE_TEST_CASE(a_spoilt_cache_is_read_as_no_cache, cached_project) {
    settle();
    auto cached = cache_files().front();
    auto text = moonshift::test::read_file(cached);
    // Cut in the middle, then garbage, then a line with a field too many.
    moonshift::test::write_file(cached, text.substr(0, text.size() / 2));
    BOOST_TEST(status().exit_code == 0);
    moonshift::test::write_file(cached, "not a cache\n\t\\\n");
    BOOST_TEST(status().exit_code == 0);
    auto extra = text;
    extra.insert(extra.rfind('\n', extra.size() - 2), "\tforged");
    moonshift::test::write_file(cached, extra);
    auto r = status();
    BOOST_TEST(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(state_of(r, "002") == "applied", r.out);
    // Rewritten whole by the next status that reads the folder (the files are old enough).
    BOOST_TEST(moonshift::test::read_file(cached) == text);
}

BOOST_FIXTURE_TEST_CASE(no_cache_when_turned_off_or_unwritable_or_racy, cached_project) {
    // Files written within the last two seconds: not cached (a change in the same clock tick
    // could keep the stat as it was).
    BOOST_TEST(status().exit_code == 0);
    BOOST_TEST(cache_files().empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto off = ms({"status"}, {{"XDG_CACHE_HOME", cache.path.string()},
                               {"MOONSHIFT_CACHE_DIR", std::string("off")}});
    BOOST_TEST(off.exit_code == 0, off.out + off.err);
    BOOST_TEST(cache_files().empty());
    // A cache folder that cannot be made (a file is in its way): status works without it.
    moonshift::test::write_file(cache.path / "in-the-way", "x");
    auto blocked =
        ms({"status"}, {{"MOONSHIFT_CACHE_DIR", (cache.path / "in-the-way" / "c").string()}});
    BOOST_TEST(blocked.exit_code == 0, blocked.out + blocked.err);
    BOOST_TEST(blocked.err.find("cache") == std::string::npos, blocked.err);
    // MOONSHIFT_CACHE_DIR names the folder itself.
    auto own = ms({"status"}, {{"MOONSHIFT_CACHE_DIR", (cache.path / "own").string()}});
    BOOST_TEST(own.exit_code == 0, own.out + own.err);
    BOOST_TEST(!fs::is_empty(cache.path / "own"));
}

BOOST_AUTO_TEST_SUITE_END()
