// Reading a statement's rows (see result.hpp).
#include "db/result.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "common/error.hpp"
#include "db/pq_lazy.hpp"

namespace moonshift::db {
namespace {

[[noreturn]] void not_a(const char* what, const field& f) {
    throw error(exit_code::migration_failed,
                std::string("the database returned ") +
                    (f.is_null() ? "NULL" : "\"" + std::string(f.view()) + "\"") + " for column " +
                    f.name() + " where " + what + " was expected");
}

template <class T>
T integer(const field& f, const char* what) {
    if (f.is_null()) not_a(what, f);
    T v{};
    auto s = f.view();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) not_a(what, f);
    return v;
}

}  // namespace

bool field::is_null() const { return PQgetisnull(r_, row_, col_) != 0; }
const char* field::c_str() const { return PQgetvalue(r_, row_, col_); }
std::size_t field::size() const { return static_cast<std::size_t>(PQgetlength(r_, row_, col_)); }
oid field::type() const { return PQftype(r_, col_); }
const char* field::name() const {
    const char* n = PQfname(r_, col_);
    return n ? n : "?";
}

template <>
std::string field::as<std::string>() const {
    if (is_null()) not_a("text", *this);
    return std::string(view());
}
template <>
bool field::as<bool>() const {
    auto s = view();
    if (!is_null() && (s == "t" || s == "true")) return true;
    if (!is_null() && (s == "f" || s == "false")) return false;
    not_a("a boolean", *this);
}
template <>
int field::as<int>() const {
    return integer<int>(*this, "an integer");
}
template <>
long field::as<long>() const {
    return integer<long>(*this, "an integer");
}
template <>
long long field::as<long long>() const {
    return integer<long long>(*this, "an integer");
}
template <>
unsigned field::as<unsigned>() const {
    return integer<unsigned>(*this, "an unsigned integer");
}
template <>
unsigned long field::as<unsigned long>() const {
    return integer<unsigned long>(*this, "an unsigned integer");
}
template <>
unsigned long long field::as<unsigned long long>() const {
    return integer<unsigned long long>(*this, "an unsigned integer");
}
template <>
double field::as<double>() const {
    if (is_null()) not_a("a number", *this);
    char* end = nullptr;
    double v = std::strtod(c_str(), &end);
    if (end != c_str() + size()) not_a("a number", *this);
    return v;
}

field row::operator[](const char* column) const {
    int c = PQfnumber(r_, column);
    if (c < 0)
        throw error(exit_code::migration_failed,
                    std::string("no column ") + column + " in the result");
    return field(r_, n_, c);
}
int row::size() const { return PQnfields(r_); }

result::result(pg_result* r) : r_(r, PQclear) {}
std::size_t result::size() const { return r_ ? static_cast<std::size_t>(PQntuples(r_.get())) : 0; }
int result::columns() const { return r_ ? PQnfields(r_.get()) : 0; }
const char* result::column_name(int col) const { return PQfname(r_.get(), col); }
oid result::column_type(int col) const { return PQftype(r_.get(), col); }
long long result::affected_rows() const {
    if (!r_) return 0;
    const char* n = PQcmdTuples(r_.get());
    return n && *n ? std::atoll(n) : 0;
}
std::string result::command_tag() const {
    const char* t = r_ ? PQcmdStatus(r_.get()) : nullptr;
    return t ? t : "";
}

}  // namespace moonshift::db
