// Values across the boundary: PostgreSQL text-format values to Lua by type
// OID, Lua values to bound parameters and COPY fields, and Lua <-> JSON.
// Functions that read Lua values throw std::runtime_error (never a Lua error).
#pragma once
#include <lua.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "db/result.hpp"
#include "lua/record.hpp"

namespace moonshift::lua {

// Pushes one column value: int2/4/8, oid, float4/8 and numeric as numbers
// (int8 and numeric as strings when a double would lose digits), bool as a
// boolean, json/jsonb decoded, arrays of those as arrays (NULL elements as
// json.null), everything else as its text.
void push_pg_value(lua_State* L, unsigned oid, const char* text, std::size_t len);
// The same for a field of a result (not NULL), by its column's type.
inline void push_pg_value(lua_State* L, const db::field& f) {
    push_pg_value(L, f.type(), f.c_str(), f.size());
}

// A Lua value as parameter text: nil and json.null are NULL (nullopt),
// booleans "true"/"false", integral numbers without ".0", strings as they
// are, db.array tables as array literals, other tables as JSON. `what`
// names the value in messages ("parameter $2").
std::optional<std::string> param_text(lua_State* L, int idx, const std::string& what);

// The shortest text that reads back as the same double.
std::string number_text(double v);

// Lua -> JSON: tables whose keys are 1..n are arrays, other tables objects;
// an empty table is an object unless marked by json.array (or decoded from
// []); json.null is null. Throws for functions, cycles, NaN and odd keys.
nlohmann::json to_json(lua_State* L, int idx);

// JSON -> Lua: arrays and objects keep their kind (so [] encodes back as []),
// null is json.null.
void push_json(lua_State* L, const nlohmann::json& j);
// The same for an object given as named parts (json_record, runtime.hpp),
// pushed from where they are without first copying them into one object.
void push_json_record(lua_State* L, const json_record& fields);

}  // namespace moonshift::lua
