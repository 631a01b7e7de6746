-- Shared by the authenticated scenarios: bearer tokens of seeded users, one per line in
-- BENCH_TOKENS, picked at random per request.
tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
dofile(os.getenv("BENCH_DIR") .. "/random.lua")
function random_token() return tokens[math.random(1, #tokens)] end
