// text::redact, the one redaction every message, log line, report and event goes through: each
// URL typo and keyword form hides its password, secret variables are hidden wherever they
// appear, and text of any size is redacted in time proportional to it (a 40 kB word used to
// overflow the stack inside std::regex; 20 kB took 12 s).
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "common/text.hpp"
#include "project/config.hpp"

namespace text = moonshift::text;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// Redacts and checks the secret is gone while `kept` (the text around it) is still there.
void hides(const std::string& input, const std::string& secret, const std::string& kept) {
    std::string out = text::redact(input);
    BOOST_TEST(!contains(out, secret), "\"" << secret << "\" is shown in: " << out);
    BOOST_TEST(contains(out, kept), "\"" << kept << "\" is lost from: " << out);
}

// Seconds taken by one redaction of s.
double seconds_for(const std::string& s, std::string& out) {
    auto t0 = std::chrono::steady_clock::now();
    out = text::redact(s);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redaction)

BOOST_AUTO_TEST_CASE(a_url_password_is_hidden_in_every_spelling_of_the_url) {
    hides("cannot connect to postgres://app:hunter22@db.example.com/app", "hunter22",
          "postgres://app:***@db.example.com/app");
    hides("postgresql://app:hunter22@db/app?sslmode=require", "hunter22", "@db/app?sslmode");
    // The typos libpq rejects, quoting the whole string in its message.
    hides("missing \"=\" after \"postgres:/app:hunter22@db/app\" in connection info string",
          "hunter22", "postgres:/app:***@db/app");
    hides("missing \"=\" after \"postgresql//app:hunter22@db/app\"", "hunter22",
          "postgresql//app:***@db/app");
    hides("postgres:///app:hunter22@db/app", "hunter22", "@db/app");
    // A raw % and a raw @ in the password: the host starts after the last @.
    hides("postgres://app:hun%ter22@db/app", "ter22", "postgres://app:***@db/app");
    hides("postgres://app:p@ss@w0rd22@db/app failed", "w0rd22", "postgres://app:***@db/app failed");
    hides("postgres://app:x%zz22secret@db/app", "zz22secret", "@db/app");
    // In a JSON value and with other values after it.
    hides(R"({"url":"postgres://app:hunter22@db/app","email":"a@b.example"})", "hunter22",
          R"("email":"a@b.example")");
    hides("mysql+pymysql://root:hunter22@127.0.0.1:3306/x", "hunter22", "@127.0.0.1:3306");
}

BOOST_AUTO_TEST_CASE(a_url_without_password_is_left_alone) {
    for (std::string s : {"postgresql://postgres@127.0.0.1:5432/db", "see https://example.com/a:b",
                          "Key (id)=(5) already exists.", "SELECT x::text FROM t",
                          "FATAL: password authentication failed for user \"app\""})
        BOOST_TEST(text::redact(s) == s);
}

BOOST_AUTO_TEST_CASE(keyword_values_are_hidden_in_every_form_and_misspelling) {
    hides("host=db password=hunter22 user=app", "hunter22", "user=app");
    hides("host=db password = 'hun ter22' user=app", "ter22", "user=app");
    hides("host=db password='it\\'s22x' user=app", "s22x", "user=app");
    // & inside a keyword string belongs to the password; in a URL's query it ends it.
    hides("host=db password=ab&cd22 user=app", "cd22", "user=app");
    hides("postgres://db/app?user=x&password=hunter22&sslmode=require", "hunter22",
          "&sslmode=require");
    for (std::string key :
         {"passwd", "passwrd", "pasword", "passowrd", "pwd", "pw", "pass", "PGPASSWORD",
          "sslpassword", "db_pw", "DB-PASS", "token", "api_key", "client_secret", "passphrase"})
        hides("x " + key + "=hunter22 y", "hunter22", key + "=*** y");
    hides(R"({"token":"tok-8f3a9c","n":1})", "tok-8f3a9c", R"("n":1)");
    hides("password: hunter22", "hunter22", "password: ***");
    hides("{ password => \"hunter22\" }", "hunter22", "password =>");
    hides("https://hooks.slack.com/services/T00/B00/XXXXsecret done", "XXXXsecret", " done");
}

BOOST_AUTO_TEST_CASE(registered_values_and_secret_variables_are_hidden_everywhere) {
    text::add_secret("s3cr3t-value-42");
    hides("invalid input syntax for type integer: \"s3cr3t-value-42\"", "s3cr3t-value-42",
          "integer: \"***\"");
    // Percent-encoded in a URL, the decoded value is hidden too.
    text::add_secret("p%40ss-word-99");
    hides("the password p@ss-word-99 is wrong", "p@ss-word-99", "the password *** is wrong");
    // A connection string registers its pieces: libpq may quote one alone.
    text::add_secrets_in("postgres://app:raw%zzpass77@db/app");
    hides("invalid percent-encoded token: \"raw%zzpass77\"", "raw%zzpass77", "token: \"***\"");
    // Names whose values are secret.
    for (std::string name : {"DB_PW", "PW", "PW_APP", "APP_PASS", "DB_PASSWORD", "JWT_SECRET",
                             "GITHUB_TOKEN", "STRIPE_KEY", "DATABASE_URL", "SMTP_PWD"})
        BOOST_TEST(text::is_secret_name(name), name);
    for (std::string name : {"REGION", "PORT", "POWER", "DB_HOST", "PWRITE_SIZE"})
        BOOST_TEST(!text::is_secret_name(name), name);
}

BOOST_AUTO_TEST_CASE(every_variable_that_makes_up_a_url_password_becomes_secret) {
    std::map<std::string, std::string> vars = {
        {"APP_PW", "first-half-7"}, {"SALT", "second-half-8"}, {"DB_HOST", "db.internal"}};
    auto url = moonshift::project::interpolate("postgres://app:${APP_PW}${SALT}@${DB_HOST}/app",
                                               vars, "test", true);
    BOOST_TEST(url == "postgres://app:first-half-7second-half-8@db.internal/app");
    hides("token \"second-half-8\" is not valid", "second-half-8", "token \"***\"");
    hides("first-half-7 alone", "first-half-7", " alone");
    // The host is not a secret: hiding every host and database name would mangle messages.
    BOOST_TEST(text::redact("could not translate host name \"db.internal\"") ==
               "could not translate host name \"db.internal\"");
}

BOOST_AUTO_TEST_CASE(long_runs_are_redacted_in_linear_time_without_crashing) {
    for (std::size_t n : {std::size_t(40000), std::size_t(1000000)}) {
        for (std::string unit : {"w", " ", "a:", "a//", "a://a:", "@", "password=", "x=y&"}) {
            std::string s;
            while (s.size() < n) s += unit;
            std::string out;
            double took = seconds_for(s, out);
            // Generous: the regex took 12 s for 20 kB; a linear scan of 1 MB takes milliseconds.
            BOOST_TEST(took < 5.0, n << " bytes of \"" << unit << "\" took " << took << " s");
            BOOST_TEST(!out.empty());
        }
    }
    std::string word(1000000, 'w');
    BOOST_TEST(text::redact("error: " + word + " postgres://a:hunter22@h") ==
               "error: " + word + " postgres://a:***@h");
}

BOOST_AUTO_TEST_SUITE_END()
