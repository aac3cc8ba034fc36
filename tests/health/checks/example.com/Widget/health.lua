-- A Widget is ready when its controller has seen the spec and its Ready condition is True.
local hs = {}
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the widget controller"
  return hs
end
if obj.status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "spec not observed yet"
  return hs
end
for _, condition in ipairs(obj.status.conditions or {}) do
  if condition.type == "Ready" then
    if condition.status == "True" then
      hs.status = "Healthy"
      hs.message = obj.status.readyReplicas .. " of " .. obj.spec.replicas .. " widgets ready"
    else
      hs.status = "Degraded"
      hs.message = condition.reason .. ": " .. condition.message
      if condition.lastTransitionTime ~= nil then
        hs.message = hs.message .. " (since " .. condition.lastTransitionTime .. ")"
      end
    end
    return hs
  end
end
hs.status = "Progressing"
hs.message = "no Ready condition yet"
return hs
