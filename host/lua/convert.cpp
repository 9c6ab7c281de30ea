// Conversions between PostgreSQL text values, Lua values and JSON.
#include "lua/convert.hpp"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "lua/host.hpp"

namespace moonshift::lua {
namespace {

constexpr double max_exact_integer = 9007199254740992.0;  // 2^53
constexpr int max_json_depth = 200;

enum : unsigned {
    bool_oid = 16,
    int8_oid = 20,
    int2_oid = 21,
    int4_oid = 23,
    oid_oid = 26,
    json_oid = 114,
    float4_oid = 700,
    float8_oid = 701,
    numeric_oid = 1700,
    jsonb_oid = 3802,
};

// Element type of the array types whose values we convert; 0 for the rest.
unsigned element_of(unsigned array_oid) {
    switch (array_oid) {
        case 1000:
            return bool_oid;
        case 1005:
            return int2_oid;
        case 1007:
            return int4_oid;
        case 1016:
            return int8_oid;
        case 1028:
            return oid_oid;
        case 1021:
            return float4_oid;
        case 1022:
            return float8_oid;
        case 1231:
            return numeric_oid;
        case 199:
            return json_oid;
        case 3807:
            return jsonb_oid;
        case 1009:
            return 25;  // text
        case 1015:
            return 1043;  // varchar
        case 1014:
            return 1042;  // bpchar
        case 1003:
            return 19;  // name
        case 2951:
            return 2950;  // uuid
        case 1182:
            return 1082;  // date
        case 1115:
            return 1114;  // timestamp
        case 1185:
            return 1184;  // timestamptz
        case 1183:
            return 1083;  // time
        case 1187:
            return 1186;  // interval
        case 1001:
            return 17;  // bytea
        default:
            return 0;
    }
}

// True when the decimal text reads into a double without losing digits:
// at most 15 significant digits (every such decimal round-trips).
bool numeric_fits(const char* s, std::size_t len) {
    std::size_t digits = 0;
    bool leading = true, fraction = false;
    std::size_t trailing_zeros = 0;
    for (std::size_t i = 0; i < len; ++i) {
        char c = s[i];
        if (c == '-' || c == '+') continue;
        if (c == '.') {
            fraction = true;
            continue;
        }
        if (c < '0' || c > '9') return false;  // NaN, Infinity, exponents: keep the text
        if (leading && c == '0') continue;
        leading = false;
        ++digits;
        trailing_zeros = (fraction && c == '0') ? trailing_zeros + 1 : 0;
    }
    return digits - trailing_zeros <= 15;
}

void push_number_text(lua_State* L, const char* text) {
    lua_pushnumber(L, std::strtod(text, nullptr));
}

void push_scalar(lua_State* L, unsigned oid, const char* text, std::size_t len);

// One element list of PostgreSQL's array text format: {1,2,NULL},
// {"a b","c\"d"}, {{1,2},{3,4}}; p points at '{'.
const char* parse_array(lua_State* L, const char* p, const char* end, unsigned elem, int depth) {
    if (depth > 6 || p >= end || *p != '{') throw std::runtime_error("malformed array value");
    if (!lua_checkstack(L, 4)) throw std::runtime_error("array value nested too deep");
    ++p;
    lua_newtable(L);
    push_registry(L, &pg_array_mt_key);
    lua_setmetatable(L, -2);
    int n = 0;
    std::string item;
    for (;;) {
        while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
        if (p >= end) throw std::runtime_error("malformed array value");
        if (*p == '}') return p + 1;
        if (*p == '{') {
            p = parse_array(L, p, end, elem, depth + 1);
        } else if (*p == '"') {
            item.clear();
            for (++p; p < end && *p != '"'; ++p) {
                if (*p == '\\' && p + 1 < end) ++p;
                item += *p;
            }
            if (p >= end) throw std::runtime_error("malformed array value");
            ++p;
            push_scalar(L, elem, item.c_str(), item.size());
        } else {
            const char* b = p;
            while (p < end && *p != ',' && *p != '}') ++p;
            const char* e = p;
            while (e > b && std::isspace(static_cast<unsigned char>(e[-1]))) --e;
            item.assign(b, e);
            if (item.size() == 4 && strncasecmp(item.c_str(), "NULL", 4) == 0)
                push_null(L);
            else
                push_scalar(L, elem, item.c_str(), item.size());
        }
        lua_rawseti(L, -2, ++n);
        while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
        if (p < end && *p == ',') ++p;
    }
}

void push_scalar(lua_State* L, unsigned oid, const char* text, std::size_t len) {
    switch (oid) {
        case bool_oid:
            lua_pushboolean(L, len > 0 && text[0] == 't');
            return;
        case int2_oid:
        case int4_oid:
        case oid_oid:
            lua_pushnumber(L, static_cast<double>(std::strtoll(text, nullptr, 10)));
            return;
        case int8_oid: {
            long long v = std::strtoll(text, nullptr, 10);
            constexpr long long exact = 1LL << 53;  // compared as integers: the double would round
            if (v >= -exact && v <= exact)
                lua_pushnumber(L, static_cast<double>(v));
            else
                lua_pushlstring(L, text, len);
            return;
        }
        case float4_oid:
        case float8_oid:
            push_number_text(L, text);
            return;
        case numeric_oid:
            if (numeric_fits(text, len))
                push_number_text(L, text);
            else
                lua_pushlstring(L, text, len);
            return;
        case json_oid:
        case jsonb_oid:
            push_json(L, nlohmann::json::parse(text, text + len));
            return;
        default:
            if (unsigned elem = element_of(oid)) {
                const char* p = text;
                const char* end = text + len;
                if (p < end && *p == '[') {  // explicit bounds: [0:2]={...}
                    p = static_cast<const char*>(std::memchr(p, '=', len));
                    if (!p) throw std::runtime_error("malformed array value");
                    ++p;
                }
                parse_array(L, p, end, elem, 1);
                return;
            }
            lua_pushlstring(L, text, len);
    }
}

void append_array_literal(lua_State* L, int idx, std::string& out, const std::string& what,
                          int depth);

void append_array_element(lua_State* L, int idx, std::string& out, const std::string& what,
                          int depth) {
    int t = lua_type(L, idx);
    if (t == LUA_TNIL || is_null(L, idx)) {
        out += "NULL";
    } else if (t == LUA_TTABLE && !has_metatable(L, idx, &json_object_mt_key) &&
               (has_metatable(L, idx, &pg_array_mt_key) || lua_objlen(L, idx) > 0)) {
        append_array_literal(L, idx, out, what, depth + 1);
    } else {
        auto text = param_text(L, idx, what);
        out += '"';
        for (char c : *text) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
}

void append_array_literal(lua_State* L, int idx, std::string& out, const std::string& what,
                          int depth) {
    if (depth > 6) throw std::runtime_error(what + ": an array nested deeper than 6 levels");
    if (!lua_checkstack(L, 2)) throw std::runtime_error(what + ": array nested too deep");
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    out += '{';
    int n = static_cast<int>(lua_objlen(L, idx));
    for (int i = 1; i <= n; ++i) {
        if (i > 1) out += ',';
        lua_rawgeti(L, idx, i);
        append_array_element(L, -1, out, what, depth);
        lua_pop(L, 1);
    }
    out += '}';
}

nlohmann::json to_json_at(lua_State* L, int idx, int depth);

nlohmann::json table_to_json(lua_State* L, int idx, int depth) {
    if (depth > max_json_depth)
        throw std::runtime_error("a table nested deeper than " + std::to_string(max_json_depth) +
                                 " levels (or one that contains itself)");
    if (!lua_checkstack(L, 4)) throw std::runtime_error("a table nested too deep");
    bool marked_array =
        has_metatable(L, idx, &json_array_mt_key) || has_metatable(L, idx, &pg_array_mt_key);
    bool marked_object = has_metatable(L, idx, &json_object_mt_key);
    std::size_t count = 0;
    double max_key = 0;
    bool all_positive_integers = true;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        ++count;
        if (lua_type(L, -1) == LUA_TNUMBER) {
            double k = lua_tonumber(L, -1);
            if (k >= 1 && std::floor(k) == k) {
                max_key = std::max(max_key, k);
                continue;
            }
        }
        all_positive_integers = false;
    }
    bool as_array = !marked_object && all_positive_integers && (count > 0 || marked_array);
    if (marked_array && !all_positive_integers)
        throw std::runtime_error("a table marked as a JSON array has keys that are not 1..n");
    if (as_array) {
        if (max_key != static_cast<double>(count)) {
            // find the first hole for the message
            int hole = 1;
            for (;; ++hole) {
                lua_rawgeti(L, idx, hole);
                bool nil = lua_isnil(L, -1);
                lua_pop(L, 1);
                if (nil) break;
            }
            throw std::runtime_error("an array with a hole at index " + std::to_string(hole) +
                                     " (use json.null for a null element)");
        }
        nlohmann::json arr = nlohmann::json::array();
        for (std::size_t i = 1; i <= count; ++i) {
            lua_rawgeti(L, idx, static_cast<int>(i));
            arr.push_back(to_json_at(L, lua_gettop(L), depth + 1));
            lua_pop(L, 1);
        }
        return arr;
    }
    nlohmann::json obj = nlohmann::json::object();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t n = 0;
            const char* k = lua_tolstring(L, -2, &n);
            key.assign(k, n);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            key =
                number_text(lua_tonumber(L, -2));  // never lua_tostring: it would confuse lua_next
        } else {
            std::string type = luaL_typename(L, -2);
            lua_pop(L, 2);
            throw std::runtime_error("a table key of type " + type +
                                     " (keys must be strings or numbers)");
        }
        obj[key] = to_json_at(L, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    return obj;
}

nlohmann::json to_json_at(lua_State* L, int idx, int depth) {
    switch (lua_type(L, idx)) {
        case LUA_TNIL:
            return nullptr;
        case LUA_TBOOLEAN:
            return static_cast<bool>(lua_toboolean(L, idx));
        case LUA_TNUMBER: {
            double v = lua_tonumber(L, idx);
            if (std::isnan(v) || std::isinf(v))
                throw std::runtime_error("a number that is NaN or infinite");
            if (std::floor(v) == v && std::fabs(v) <= max_exact_integer)
                return static_cast<long long>(v);
            return v;
        }
        case LUA_TSTRING: {
            size_t n = 0;
            const char* s = lua_tolstring(L, idx, &n);
            return std::string(s, n);
        }
        case LUA_TTABLE:
            return table_to_json(L, idx, depth);
        case LUA_TLIGHTUSERDATA:
            if (is_null(L, idx)) return nullptr;
            [[fallthrough]];
        default:
            throw std::runtime_error(std::string("a value of type ") + luaL_typename(L, idx));
    }
}

// Tables get the json array and object metatables, pushed once per conversion
// at stack slots mt and mt + 1 (not looked up in the registry per table).
void push_json_at(lua_State* L, const nlohmann::json& j, int depth, int mt) {
    if (depth > max_json_depth)
        throw std::runtime_error("JSON nested deeper than " + std::to_string(max_json_depth) +
                                 " levels");
    if (!lua_checkstack(L, 4)) throw std::runtime_error("JSON nested too deep");
    switch (j.type()) {
        case nlohmann::json::value_t::null:
            push_null(L);
            return;
        case nlohmann::json::value_t::boolean:
            lua_pushboolean(L, j.get<bool>());
            return;
        case nlohmann::json::value_t::number_integer:
            lua_pushnumber(L, static_cast<double>(j.get<long long>()));
            return;
        case nlohmann::json::value_t::number_unsigned:
            lua_pushnumber(L, static_cast<double>(j.get<unsigned long long>()));
            return;
        case nlohmann::json::value_t::number_float:
            lua_pushnumber(L, j.get<double>());
            return;
        case nlohmann::json::value_t::string: {
            const auto& s = j.get_ref<const std::string&>();
            lua_pushlstring(L, s.data(), s.size());
            return;
        }
        case nlohmann::json::value_t::array: {
            const auto& items = j.get_ref<const nlohmann::json::array_t&>();
            lua_createtable(L, static_cast<int>(items.size()), 0);
            int i = 0;
            for (const auto& e : items) {
                push_json_at(L, e, depth + 1, mt);
                lua_rawseti(L, -2, ++i);
            }
            lua_pushvalue(L, mt);
            lua_setmetatable(L, -2);
            return;
        }
        case nlohmann::json::value_t::object: {
            const auto& fields = j.get_ref<const nlohmann::json::object_t&>();
            lua_createtable(L, 0, static_cast<int>(fields.size()));
            for (const auto& [k, v] : fields) {
                lua_pushlstring(L, k.data(), k.size());
                push_json_at(L, v, depth + 1, mt);
                lua_rawset(L, -3);
            }
            lua_pushvalue(L, mt + 1);
            lua_setmetatable(L, -2);
            return;
        }
        default:
            throw std::runtime_error("a JSON value of an unsupported kind");
    }
}

// Pushes both metatables, returns the first's slot; the caller removes them.
int push_json_metatables(lua_State* L) {
    if (!lua_checkstack(L, 4)) throw std::runtime_error("JSON nested too deep");
    push_registry(L, &json_array_mt_key);
    push_registry(L, &json_object_mt_key);
    return lua_gettop(L) - 1;
}

}  // namespace

void push_pg_value(lua_State* L, unsigned oid, const char* text, std::size_t len) {
    push_scalar(L, oid, text, len);
}

std::string number_text(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    char buf[64];
    if (std::floor(v) == v && std::fabs(v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
    for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

std::optional<std::string> param_text(lua_State* L, int idx, const std::string& what) {
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    switch (lua_type(L, idx)) {
        case LUA_TNIL:
            return std::nullopt;
        case LUA_TBOOLEAN:
            return std::string(lua_toboolean(L, idx) ? "true" : "false");
        case LUA_TNUMBER:
            return number_text(lua_tonumber(L, idx));
        case LUA_TSTRING: {
            size_t n = 0;
            const char* s = lua_tolstring(L, idx, &n);
            if (std::memchr(s, '\0', n))
                throw std::runtime_error(what +
                                         " contains a NUL byte, which PostgreSQL text cannot hold");
            return std::string(s, n);
        }
        case LUA_TTABLE:
            if (has_metatable(L, idx, &pg_array_mt_key)) {
                std::string out;
                append_array_literal(L, idx, out, what, 1);
                return out;
            }
            try {
                return to_json(L, idx).dump();
            } catch (const nlohmann::json::exception&) {
                throw std::runtime_error(what +
                                         ": the table holds a string that is not valid UTF-8");
            } catch (const std::runtime_error& e) {
                throw std::runtime_error(what + ": cannot encode " + e.what() + " as JSON");
            }
        case LUA_TLIGHTUSERDATA:
            if (is_null(L, idx)) return std::nullopt;
            [[fallthrough]];
        default:
            throw std::runtime_error(what + ": cannot bind a value of type " +
                                     luaL_typename(L, idx));
    }
}

nlohmann::json to_json(lua_State* L, int idx) {
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    return to_json_at(L, idx, 0);
}

void push_json(lua_State* L, const nlohmann::json& j) {
    auto mt = push_json_metatables(L);
    push_json_at(L, j, 0, mt);
    lua_replace(L, mt);  // the value where the first metatable was
    lua_settop(L, mt);
}

void push_json_record(lua_State* L, const json_record& fields) {
    auto mt = push_json_metatables(L);
    // In key order, as the same object built in nlohmann::json would be pushed.
    json_record sorted = fields;  // keys are distinct
    std::sort(sorted.begin(), sorted.end());
    lua_createtable(L, 0, static_cast<int>(fields.size()));
    for (const auto& [key, value] : sorted) {
        lua_pushlstring(L, key.data(), key.size());
        push_json_at(L, *value, 1, mt);
        lua_rawset(L, -3);
    }
    lua_pushvalue(L, mt + 1);
    lua_setmetatable(L, -2);
    lua_replace(L, mt);
    lua_settop(L, mt);
}

}  // namespace moonshift::lua
