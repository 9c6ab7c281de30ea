-- A Lua migration: a precheck before, the change, and a verification that
-- runs inside the same transaction (a failure rolls the change back).
local checks = require("moonshift.checks")
local verify = require("moonshift.verify")

return {
  description = "Title-case artwork titles and remember the original",

  precheck = function(db, ctx)
    checks.column_exists("artworks", "title")
    checks.no_long_running_transactions(300)
  end,

  up = function(db, ctx)
    db:exec("ALTER TABLE artworks ADD COLUMN original_title text")
    local n = db:exec("UPDATE artworks SET original_title = title, title = initcap(title)")
    ctx:log("title-cased " .. n .. " artworks")
  end,

  verify = function(db, ctx)
    verify.expect_no_rows("SELECT id FROM artworks WHERE original_title IS NULL",
                          "every artwork keeps its original title")
  end,

  down = function(db, ctx)
    db:exec("UPDATE artworks SET title = original_title")
    db:exec("ALTER TABLE artworks DROP COLUMN original_title")
  end,
}
