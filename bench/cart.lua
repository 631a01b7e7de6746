-- GET /api/v1/cart as a random seeded user.
dofile(os.getenv("BENCH_DIR") .. "/tokens.lua")
request = function()
  return wrk.format("GET", "/api/v1/cart", { ["Authorization"] = "Bearer " .. random_token() })
end
