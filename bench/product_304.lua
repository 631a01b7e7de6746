-- GET /api/v1/products/{id} sending the ETag a read of it gave as If-None-Match: a 304
-- with no body each time. BENCH_TAGS lists "id tag" lines, fetched by bench/run.
dofile(os.getenv("BENCH_DIR") .. "/random.lua")
local ids, tags = {}, {}
for line in io.lines(os.getenv("BENCH_TAGS")) do
  local id, tag = line:match("^(%d+) (.+)$")
  if id then
    ids[#ids + 1] = id
    tags[#tags + 1] = tag
  end
end
request = function()
  local i = math.random(1, #ids)
  return wrk.format("GET", "/api/v1/products/" .. ids[i], { ["If-None-Match"] = tags[i] })
end
