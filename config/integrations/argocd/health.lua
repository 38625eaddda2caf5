-- Argo CD health check for meshrev.io/MeshRevision: the status contract in
-- meshrev's README ("Status contract"). Argo CD runs it with Lua's base, table
-- and package libraries only (no string library), `obj` being the object.
-- It reads the kstatus conditions meshrev writes, and tells the two planned
-- stops apart from "done" by Ready's reason (Argo Rollouts' paused Rollout is
-- Suspended in Argo CD the same way).
local hs = { status = "Progressing", message = "waiting for meshrev to report status" }
local status = obj.status
if status == nil or status.conditions == nil then
  return hs
end
local ready, reconciling, stalled
for _, c in ipairs(status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Reconciling" then
    reconciling = c
  elseif c.type == "Stalled" then
    stalled = c
  end
end
-- Argo CD reports an object being deleted as Progressing before it runs this; so does this.
if obj.metadata.deletionTimestamp ~= nil then
  hs.message = "being deleted"
  if ready ~= nil and ready.message ~= nil then
    hs.message = ready.message
  end
  return hs
end
if status.observedGeneration == nil or status.observedGeneration ~= obj.metadata.generation then
  hs.message = "waiting for meshrev to process the latest spec (generation " .. tostring(obj.metadata.generation) .. ")"
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = reconciling.message
  return hs
end
if ready ~= nil and ready.status == "True" then
  if ready.reason == "MigrationAwaitingPromotion" or ready.reason == "MigrationSuspended" then
    hs.status = "Suspended"
  else
    hs.status = "Healthy"
  end
  hs.message = ready.message
  return hs
end
if ready ~= nil and ready.message ~= nil then
  hs.message = ready.message
end
return hs
