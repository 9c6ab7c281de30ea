-- A project verification: runs after every `up` and in `moonshift verify`,
-- read-only. ctx:fail stops the run with exit 3 and the migrations unverified.
local orphans = db:scalar([[
  SELECT count(*) FROM orders o
  WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)
]])
if orphans > 0 then
  ctx:fail(orphans .. " orders point at no customer")
end
