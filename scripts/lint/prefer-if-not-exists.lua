-- A CREATE without IF NOT EXISTS (or OR REPLACE) fails when the object is
-- already there: after a hand-made hotfix, or when a migration is replayed
-- on a database that got the object another way.
local lint = require("moonshift.lint")

local flags = {
  CreateStmt = { "if_not_exists", "CREATE TABLE IF NOT EXISTS" },
  CreateTableAsStmt = { "if_not_exists", "CREATE TABLE IF NOT EXISTS ... AS" },
  CreateSchemaStmt = { "if_not_exists", "CREATE SCHEMA IF NOT EXISTS" },
  CreateSeqStmt = { "if_not_exists", "CREATE SEQUENCE IF NOT EXISTS" },
  CreateExtensionStmt = { "if_not_exists", "CREATE EXTENSION IF NOT EXISTS" },
  IndexStmt = { "if_not_exists", "CREATE INDEX IF NOT EXISTS" },
  ViewStmt = { "replace", "CREATE OR REPLACE VIEW" },
  CreateFunctionStmt = { "replace", "CREATE OR REPLACE FUNCTION" },
}

return {
  description = "CREATE without IF NOT EXISTS or OR REPLACE (not idempotent)",
  severity = "warning",
  kinds = "CreateStmt CreateTableAsStmt CreateSchemaStmt CreateSeqStmt CreateExtensionStmt IndexStmt ViewStmt CreateFunctionStmt",
  check = function(stmt)
    local n = stmt.node
    local f = flags[stmt.kind]
    if n[f[1]] then return nil end
    -- An index without a name cannot say IF NOT EXISTS.
    if stmt.kind == "IndexStmt" and not n.idxname then return nil end
    -- A temporary table lives only as long as the session.
    if stmt.kind == "CreateStmt" and n.relation and n.relation.relpersistence == "t" then return nil end
    return {
      message = "not idempotent: fails if the object already exists",
      hint = "write " .. f[2],
    }
  end,
}
