-- POST /api/v1/cart/checkout: each request checks out the next buyer's cart (one unit of
-- one of a few hot products). Buyers are split between wrk's threads; once every buyer
-- has checked out, further requests find an empty cart (422).
local buyers = {}
for line in io.lines(os.getenv("BENCH_BUYERS")) do buyers[#buyers + 1] = line end
local threads = 0
setup = function(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
local n = 0
request = function()
  local index = (n * 2 + offset) % #buyers + 1
  n = n + 1
  return wrk.format("POST", "/api/v1/cart/checkout", { ["Authorization"] = "Bearer " .. buyers[index] })
end
