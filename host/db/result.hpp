// The rows a statement returned, read without libpq in sight: a result
// holds the server's answer, a row is one of its tuples, a field one value
// in text form (NULL is is_null()). Copies share the same answer.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct pg_result;

namespace moonshift::db {

using oid = unsigned int;

class field {
  public:
    field(const pg_result* r, int row, int col) : r_(r), row_(row), col_(col) {}
    bool is_null() const;
    const char* c_str() const;  // "" for NULL
    std::size_t size() const;   // bytes of the text form
    std::string_view view() const { return {c_str(), size()}; }
    oid type() const;  // the column's type oid
    const char* name() const;

    // The value converted from its text form; throws error on NULL or on
    // text that is not a T (bool: "t"/"f").
    template <class T>
    T as() const;
    template <class T>
    T as(T fallback) const {
        return is_null() ? fallback : as<T>();
    }
    template <class T>
    std::optional<T> get() const {
        return is_null() ? std::nullopt : std::optional<T>(as<T>());
    }

  private:
    const pg_result* r_;
    int row_, col_;
};

class row {
  public:
    row(const pg_result* r, int n) : r_(r), n_(n) {}
    field operator[](int col) const { return field(r_, n_, col); }
    field operator[](const char* column) const;  // by name; throws when there is none
    int size() const;
    int index() const { return n_; }

  private:
    const pg_result* r_;
    int n_;
};

class result {
  public:
    result() = default;
    explicit result(pg_result* r);  // takes ownership

    std::size_t size() const;
    bool empty() const { return size() == 0; }
    row operator[](std::size_t n) const { return row(get(), static_cast<int>(n)); }
    int columns() const;
    const char* column_name(int col) const;
    oid column_type(int col) const;
    // INSERT/UPDATE/DELETE/…: the rows the command touched; 0 otherwise.
    long long affected_rows() const;
    // The server's command tag: "UPDATE 12", "CREATE INDEX", "SELECT 3".
    std::string command_tag() const;

    class iterator {
      public:
        iterator(const pg_result* r, int n) : r_(r), n_(n) {}
        row operator*() const { return row(r_, n_); }
        iterator& operator++() {
            ++n_;
            return *this;
        }
        bool operator!=(const iterator& o) const { return n_ != o.n_; }
        bool operator==(const iterator& o) const { return n_ == o.n_; }

      private:
        const pg_result* r_;
        int n_;
    };
    iterator begin() const { return iterator(get(), 0); }
    iterator end() const { return iterator(get(), static_cast<int>(size())); }

    const pg_result* get() const { return r_.get(); }

  private:
    std::shared_ptr<pg_result> r_;
};

}  // namespace moonshift::db
