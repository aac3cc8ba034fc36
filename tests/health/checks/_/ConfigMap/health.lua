-- A ConfigMap is Degraded while it is missing the key the app reads (core group: `_`).
local hs = {}
if obj.data ~= nil and obj.data["app.properties"] ~= nil then
  hs.status = "Healthy"
  hs.message = "has app.properties"
else
  hs.status = "Degraded"
  hs.message = "app.properties is missing"
end
return hs
