-- POST /api/v1/cart/items: a random seeded user adds one unit of a random in-stock product.
dofile(os.getenv("BENCH_DIR") .. "/tokens.lua")
in_stock = {}
for line in io.lines(os.getenv("BENCH_IN_STOCK")) do in_stock[#in_stock + 1] = line end
request = function()
  local body = '{"product_id":' .. in_stock[math.random(1, #in_stock)] .. ',"quantity":1}'
  return wrk.format("POST", "/api/v1/cart/items", {
    ["Authorization"] = "Bearer " .. random_token(),
    ["Content-Type"] = "application/json",
  }, body)
end
