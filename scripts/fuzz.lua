-- Seeded fuzzer for the Lua surface and the file readers (issue 17). Every call runs under
-- pcall: a wrong or near-valid argument must give a Lua error, never a signal. The process
-- dying is the failure; the last line of `trace` names the call that killed it.
--
--   doll run scripts/fuzz.lua seed=1 calls=3000 files=200 dir=/tmp/fuzz [seconds=120]
--
-- calls: Lua calls of doll functions, methods and metamethods with random arguments.
-- files: mutated inputs per format (PNG, JPEG, safetensors, label CSV, CheXpert CSV, session
--        manifest and tensors file), each read by the function that reads that format.
-- Run it in a scratch directory (random string arguments are also file names) with HOME there.

local opt = {seed = 1, calls = 3000, files = 200, dir = ".", seconds = 1e9}
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then opt[k] = tonumber(v) or v end
end
local dir = opt.dir
local deadline = os.clock() + opt.seconds

-- A small generator of our own (xorshift64*), so the case sequence depends only on the seed.
local state = (opt.seed * 0x9E3779B97F4A7C15 + 1) | 1
local function rnd(n)
  state = state ~ (state >> 12); state = state ~ (state << 25); state = state ~ (state >> 27)
  local v = (state * 0x2545F4914F6CDD1D) >> 11
  return v % n + 1
end
local function pick(t) return t[rnd(#t)] end

local trace = assert(io.open(dir .. "/trace", "w"))
trace:setvbuf("line")

local function describe(v)
  local t = type(v)
  if t == "string" then return string.format("%q", #v > 40 and v:sub(1, 40) .. "…" or v) end
  if t == "table" then return "table" end
  if t == "userdata" then local mt = getmetatable(v); return mt and mt.__name or "userdata" end
  return tostring(v)
end

-- Objects to call methods on: small, so that a call that happens to be valid is fast.
doll.seed(opt.seed)
local ds = doll.phantoms{n = 4, size = 32, seed = 1}
local clf = doll.classifier{widths = {2}, blocks = {1}, seed = 1}
local unet = doll.unet{widths = {2, 4}, classes = 2}
local objects = {
  doll.tensor(1.5), doll.zeros(0), doll.zeros(3), doll.rand({2, 3}, {seed = 1}), doll.zeros(1, 1, 32, 32),
  doll.rand({2, 1, 32, 32}, {seed = 2}), doll.zeros(1, 32, 32), doll.full({2, 2}, 0 / 0), ds, clf, unet,
  doll.ig(clf, {steps = 2}), doll.saliency(clf), doll.gradcam(clf), doll.occlusion(clf, {window = 16, stride = 16}),
  doll.smoothgrad(clf, {samples = 2}),
}
local ok, labels = pcall(doll.labels, {clf}, ds, {steps = 2})
if ok then objects[#objects + 1] = labels end

local hostile = setmetatable({}, {__index = function() error("hostile __index") end,
                                  __len = function() error("hostile __len") end,
                                  __pairs = function() error("hostile __pairs") end})
local cyclic = {}; cyclic[1] = cyclic; cyclic.self = cyclic
local optionNames = {"n", "size", "seed", "steps", "widths", "blocks", "classes", "structures", "encoder", "baseline",
  "method", "batch", "target", "epochs", "lr", "samples", "sigma", "window", "stride", "layer", "cmap", "sign", "over",
  "alpha", "series", "title", "categories", "csv", "root", "split", "policy", "explainer", "threshold", "width",
  "height", "logx", "difficulty", "first", "noise", "infection", "kind", "tolerance", "mean", "std", "low", "high"}
local strings = {"", "x", "lungs", "heart", "ig", "zeros", "inferno", "all", "a\0b", string.rep("x", 5000),
  "sub/f.png", "/nonexistent/dir/f", "ü€", "nan", "-1", "3", "Cardiomegaly", "doubleConv", "resnet"}
local numbers = {0, 1, 2, 3, -1, 7, 16, 64, 1 << 31, math.maxinteger, math.mininteger, 0.5, -0.0, 1e300, -1e300,
  0 / 0, 1 / 0, -1 / 0, 1e-300, 2 ^ 53, 1e9}

local value
local function tableValue(depth)
  local r = rnd(8)
  if r == 1 then return {} end
  if r == 2 then local t = {}; for i = 1, rnd(4) do t[i] = pick(numbers) end; return t end
  if r == 3 then return {{1, 2}, {3, 4}} end
  if r == 4 then return pick{hostile, cyclic} end
  if r == 5 then local t = {}; for i = 1, rnd(3) do t[i] = value(depth + 1) end; return t end
  local t = {}
  for _ = 1, rnd(3) do t[pick(optionNames)] = value(depth + 1) end
  return t
end
function value(depth)
  depth = depth or 0
  local r = rnd(depth > 1 and 6 or 8)
  if r == 1 then return nil end
  if r == 2 then return rnd(2) == 1 end
  if r == 3 then return pick(numbers) end
  if r == 4 then return pick(strings) end
  if r == 5 or r == 6 then return pick(objects) end
  if r == 7 then return tableValue(depth) end
  return pick{print, function() error("callback error") end}
end

-- Every doll function, and the methods of every object type.
local functions = {}
local function collect(t, prefix)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = t[k]
    -- doll.study runs the whole pipeline (minutes); its options are tested in StudyTests.
    if type(v) == "function" and prefix .. k ~= "doll.study" then functions[#functions + 1] = {prefix .. k, v}
    elseif type(v) == "table" and k ~= "observations" then collect(v, prefix .. k .. ".") end
  end
end
collect(doll, "doll.")
local methods, seenTypes = {}, {}
for _, o in ipairs(objects) do
  local mt = getmetatable(o)
  if not seenTypes[mt.__name] then
    seenTypes[mt.__name] = true
    local names = {}
    for k in pairs(mt.__methods) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do methods[#methods + 1] = {mt.__name .. ":" .. k, mt.__methods[k], mt.__name} end
  end
end
local function objectOf(typeName)
  local matching = {}
  for _, o in ipairs(objects) do if getmetatable(o).__name == typeName then matching[#matching + 1] = o end end
  return pick(matching)
end

local count = {calls = 0, ok = 0, errors = 0}
local function try(name, f, ...)
  count.calls = count.calls + 1
  local args = table.pack(...)
  local parts = {}
  for i = 1, args.n do parts[i] = describe(args[i]) end
  trace:write(count.calls, " ", name, "(", table.concat(parts, ", "), ")\n")
  local results = table.pack(pcall(f, ...))
  if results[1] then
    count.ok = count.ok + 1
    -- Keep some results as arguments for later calls (bounded).
    for i = 2, math.min(results.n, 3) do
      if type(results[i]) == "userdata" and #objects < 64 then objects[#objects + 1] = results[i] end
    end
  else
    count.errors = count.errors + 1
    assert(type(results[2]) == "string" or type(results[2]) == "table" or results[2] == nil,
           name .. " raised a " .. type(results[2]))
  end
end

local operators = {
  {"__index", function(a, k) return a[k] end}, {"__newindex", function(a, k, v) a[k] = v end},
  {"__len", function(a) return #a end}, {"__tostring", function(a) return tostring(a) end},
  {"__add", function(a, b) return a + b end}, {"__sub", function(a, b) return a - b end},
  {"__mul", function(a, b) return a * b end}, {"__div", function(a, b) return a / b end},
  {"__unm", function(a) return -a end}, {"__eq", function(a, b) return a == b end},
  {"__concat", function(a, b) return a .. b end}, {"__call", function(a, ...) return a(...) end},
}

while count.calls < opt.calls and os.clock() < deadline do
  local r = rnd(10)
  if r <= 4 then
    local f = pick(functions)
    local n = rnd(5) - 1
    local args = {}
    for i = 1, n do args[i] = value() end
    try(f[1], f[2], table.unpack(args, 1, n))
  elseif r <= 8 then
    local m = pick(methods)
    local self = rnd(6) == 1 and value() or objectOf(m[3])
    local n = rnd(4) - 1
    local args = {}
    for i = 1, n do args[i] = value() end
    try(m[1], m[2], self, table.unpack(args, 1, n))
  else
    local op = pick(operators)
    try(op[1], op[2], pick(objects), value(), value())
  end
end
io.write(string.format("fuzz calls: %d (%d returned, %d Lua errors), %d functions, %d methods\n",
  count.calls, count.ok, count.errors, #functions, #methods))

-- Files: valid seeds written by doll itself, then mutated.
local function readAll(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
local function writeAll(p, s) local f = assert(io.open(p, "wb")); f:write(s); f:close() end

local seeds = {}
doll.png.write(doll.rand({1, 24, 20}, {seed = 3}), dir .. "/seed.png")
doll.png.heatmap(doll.randn({1, 16, 16}, {seed = 4}), dir .. "/seed_rgb.png")
seeds.png = {readAll(dir .. "/seed.png"), readAll(dir .. "/seed_rgb.png")}
doll.png.write(doll.rand({1, 24, 20}, {seed = 6}), dir .. "/seed.jpg")
seeds.jpeg = {readAll(dir .. "/seed.jpg")}
doll.save(dir .. "/seed.safetensors", {a = doll.rand({3, 4}, {seed = 5}), b = doll.zeros(2)})
clf:save(dir .. "/seed_clf.safetensors")
seeds.safetensors = {readAll(dir .. "/seed.safetensors"), readAll(dir .. "/seed_clf.safetensors")}
seeds.labelcsv = {"Path,Cardiomegaly,Edema,split\nseed.png,1,0,train\nseed.png,0,1,train\nseed_rgb.png,1,1,valid\n"}
seeds.chexpert = {"Path,Sex,Age,Frontal/Lateral,AP/PA,Cardiomegaly,Edema,Pneumonia\n"
  .. "seed.png,Female,60,Frontal,AP,1.0,,-1.0\nseed.png,Male,70,Frontal,PA,0.0,1.0,\n"}
x_seed = {1, 2.5, "three", t = doll.zeros(2, 2)}
doll.session.save(dir .. "/seed")
x_seed = nil
seeds.manifest = {readAll(dir .. "/seed.dollsession/manifest.json")}
seeds.sessiontensors = {readAll(dir .. "/seed.dollsession/tensors.safetensors")}

local function mutate(s)
  local bytes = {string.byte(s, 1, -1)}
  for _ = 1, rnd(4) do
    local r = rnd(7)
    local n = #bytes
    if r == 1 and n > 0 then bytes[rnd(n)] = rnd(256) - 1                          -- replace a byte
    elseif r == 2 and n > 0 then for _ = 1, rnd(8) do local i = rnd(#bytes); bytes[i] = bytes[i] ~ (1 << (rnd(8) - 1)) end
    elseif r == 3 and n > 1 then for i = n, rnd(n), -1 do bytes[i] = nil end     -- truncate
    elseif r == 4 and n > 0 then                                                   -- duplicate a run
      local i = rnd(n); local len = math.min(rnd(64), n - i + 1)
      for k = 0, len - 1 do table.insert(bytes, i + len + k, bytes[i + k]) end
    elseif r == 5 and n > 0 then table.insert(bytes, rnd(n), rnd(256) - 1)         -- insert a byte
    elseif r == 6 then                                                             -- a digit run → an extreme number
      local text = string.char(table.unpack(bytes))
      local positions = {}
      for p in text:gmatch("()%d+") do positions[#positions + 1] = p end
      if #positions > 0 then
        local p = pick(positions)
        local q = text:find("%D", p) or (#text + 1)
        text = text:sub(1, p - 1) .. pick{"0", "4294967297", "99999999999999999999", "-1", "1e309", "65535"} .. text:sub(q)
        bytes = {string.byte(text, 1, -1)}
      end
    elseif n > 0 then for i = rnd(n), n do bytes[i] = nil end end
  end
  local parts = {}
  for i = 1, #bytes, 4096 do parts[#parts + 1] = string.char(table.unpack(bytes, i, math.min(i + 4095, #bytes))) end
  return table.concat(parts)
end

local readers = {
  png = function(p) local t = doll.png.read(p); return t:sum() end,
  jpeg = function(p) local t = doll.png.read(p); return t:sum() end,
  safetensors = function(p) local m = doll.load(p); return tostring(m) end,
  labelcsv = function(p) local d = doll.labelcsv{csv = p, root = dir, size = 16}; return #d > 0 and d[1] end,
  chexpert = function(p) local d = doll.chexpert{csv = p, root = dir, size = 16}; return #d > 0 and d[1] end,
}
local fileCounts = {}
for _, format in ipairs{"png", "jpeg", "safetensors", "labelcsv", "chexpert", "manifest", "sessiontensors"} do
  fileCounts[format] = 0
  if seeds[format] then
    for i = 1, opt.files do
      if os.clock() >= deadline then break end
      local data = mutate(pick(seeds[format]))
      if format == "manifest" or format == "sessiontensors" then
        local s = dir .. "/seed.dollsession"   -- the seed session's folder, its files overwritten
        writeAll(s .. "/manifest.json", format == "manifest" and data or seeds.manifest[1])
        writeAll(s .. "/tensors.safetensors", format == "sessiontensors" and data or seeds.sessiontensors[1])
        try("session.load[" .. format .. " " .. i .. "]", doll.session.load, s)
      else
        local p = dir .. "/fz." .. format
        writeAll(p, data)
        try(format .. "[" .. i .. "]", readers[format], p)
      end
      fileCounts[format] = fileCounts[format] + 1
    end
  end
end
local parts = {}
for _, format in ipairs{"png", "jpeg", "safetensors", "labelcsv", "chexpert", "manifest", "sessiontensors"} do
  parts[#parts + 1] = format .. " " .. fileCounts[format]
end
io.write("fuzz files: ", table.concat(parts, ", "), "\n")
io.write(string.format("fuzz done: %d calls in all, %d Lua errors, no signal\n", count.calls, count.errors))
