-- Sticky variants for Istio: put the caller's user (the STICKY_HEADER header, set above this file
-- by the chart) in one of 100 buckets, as BUCKET_HEADER; the VirtualService routes each bucket to
-- one variant, so a user stays in one variant while the weights stay. The bucket is FNV-1a (32 bit)
-- of the header's bytes, modulo 100: the same function `mlpatterns up`'s gateway uses. A bucket a
-- client sends is never trusted: it is replaced, or removed when there is no user.

local OFFSET, PRIME_LOW, TWO_32 = 2166136261, 403, 4294967296

-- FNV-1a in LuaJIT's doubles: the prime is 2^24 + 403, so hash * prime = (hash << 24) + hash * 403
-- (mod 2^32), each part exact in a double; bit ops answer signed 32-bit integers, hence the mods.
local function bucket(id)
  local hash = OFFSET
  for i = 1, #id do
    hash = bit.bxor(hash, id:byte(i)) % TWO_32
    hash = (bit.lshift(hash, 24) % TWO_32 + hash * PRIME_LOW) % TWO_32
  end
  return hash % 100
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local user = headers:get(STICKY_HEADER)
  if user ~= nil and user ~= "" then
    headers:replace(BUCKET_HEADER, string.format("%d", bucket(user)))
  else
    headers:remove(BUCKET_HEADER)
  end
  -- The route was chosen before this filter ran: choose again with the bucket.
  handle:clearRouteCache()
end
