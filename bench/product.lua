-- GET /api/v1/products/{random id in 1..PRODUCTS}
local products = tonumber(os.getenv("BENCH_PRODUCTS") or "100000")
dofile(os.getenv("BENCH_DIR") .. "/random.lua")
request = function()
  return wrk.format("GET", "/api/v1/products/" .. math.random(1, products))
end
