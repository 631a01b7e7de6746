-- POST /api/v1/cart/checkout with a delivery (DESIGN.md §10): each request checks out the
-- next checkout buyer's cart (one unit of one of 5 hot products, stock that never runs
-- out) to an address in Germany with the bench's shipping method, so every order computes
-- and stores its totals. A build from before checkout totals ignores the body. Buyers are
-- split between wrk's threads; bench/run refills their carts before each measured run.
local buyers = {}
for line in io.lines(os.getenv("BENCH_CHECKOUT_BUYERS")) do buyers[#buyers + 1] = line end
local method = os.getenv("BENCH_SHIPPING_METHOD") or "1"
local body = '{"shipping_address":{"name":"Erika Mustermann","line1":"Heidestraße 17",'
  .. '"city":"Köln","postal_code":"51147","country":"DE"},"shipping_method_id":' .. method .. '}'
local threads = 0
setup = function(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
local n = 0
request = function()
  local index = (n * 2 + offset) % #buyers + 1
  n = n + 1
  return wrk.format("POST", "/api/v1/cart/checkout", {
    ["Authorization"] = "Bearer " .. buyers[index],
    ["Content-Type"] = "application/json",
  }, body)
end
