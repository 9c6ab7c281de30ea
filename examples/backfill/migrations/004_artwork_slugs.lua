-- Slugify titles in SQL: "Portrait — Café Tortoni #4" → "portrait-café-tortoni-4".
-- keep_before = true saves the old slugs, so `down` puts them back exactly
-- (here they were NULL; the same holds for a column that had values).
return {
  description = "artworks.slug from the title",

  up = function(db, ctx)
    db:exec("ALTER TABLE artworks ADD COLUMN slug text")
  end,

  backfill = {
    table = "artworks",
    key = "id",
    where = "slug IS NULL",
    set = { slug = [=[trim(both '-' from lower(regexp_replace(title, '[^[:alnum:]]+', '-', 'g')))]=] },
    batch = { start = 2000, target = "250ms", max = 50000 },
    throttle = { max_rows_per_second = 100000 },
    keep_before = true,
  },

  down = function(db, ctx)
    db:exec("ALTER TABLE artworks DROP COLUMN slug")
  end,
}
