// Quoting for SQL text the host builds: identifiers, literals and the text
// form of arrays. One copy for the whole host; values that come from users
// are bound as parameters instead wherever the statement allows it.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace moonshift::db::quote {

// "name", with embedded double quotes doubled. Always quoted, so the case
// and spelling the caller gives is the one PostgreSQL sees.
std::string ident(std::string_view name);

// "schema"."name", or "name" alone when schema is empty.
std::string qualified(std::string_view schema, std::string_view name);

// 'text', with quotes doubled; E'...' with backslashes doubled when the
// text has one, so it means the same whatever standard_conforming_strings is.
std::string literal(std::string_view text);

// The text form of a text[] value ({"a","b"}), to bind as one parameter.
std::string array(const std::vector<std::string>& items);

}  // namespace moonshift::db::quote
