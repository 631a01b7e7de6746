-- Each wrk thread runs its own Lua state; seeded alike (os.time() is the same second for
-- all), they would send the same "random" sequence, so the threads' requests would
-- repeat each other. setup() runs once per thread in the main state and hands each its
-- own seed.
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", os.time() * 1000 + threads)
end
init = function(args)
  math.randomseed(seed)
end
