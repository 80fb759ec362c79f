-- The study's ResNet-encoder U-Net fine-tuned on JSRT (fold 1 → fold 2, 64 px) with either decoder:
-- test Dice, the heart probability outside the heart, and a 2-pixel checkerboard measure
-- (mean |p − mean of its 4 neighbours| outside the heart). Usage:
--   doll run scripts/decoder_check.lua transposed|bilinear [epochs=8] [jsrt root]
local root = arg[3] or '../shared/data/jsrt'
local train = doll.segdata{root = root, fold = 1, size = 64}
local test = doll.segdata{root = root, fold = 2, size = 64}
local up = arg[1] or 'bilinear'
local clf = doll.classifier{widths = {16, 32, 64}, blocks = {1, 1, 1}, seed = 1}
local seg = doll.unet{encoder = clf, structures = {'lungs', 'heart', 'clavicles'}, seed = 1, upsampling = up}
local t0 = doll.mpi.wtime()
seg:fit(train, {epochs = tonumber(arg[2]) or 10, batch = 16, lr = 2e-3, seed = 1})
local r = seg:evaluate(test)
-- background heart probability and the 2-px checkerboard: |p − mean of its 4 neighbours| outside the heart
local bg, cb, n = 0, 0, 0
for k = 1, 8 do
  local s = test[k]
  local p = seg:predict(s.image)[1][2]
  local m = s.masks.heart
  for y = 2, 63 do for x = 2, 63 do
    if m[1][y][x] < 0.5 then
      local v = p[y][x]
      bg = bg + v
      cb = cb + math.abs(v - (p[y-1][x] + p[y+1][x] + p[y][x-1] + p[y][x+1]) / 4)
      n = n + 1
    end
  end end
  if k == 1 then doll.png.heatmap(p, 'decoder_' .. up .. '_heart.png') end
end
print(string.format('%s: dice lungs %.3f heart %.3f clavicles %.3f | heart prob outside heart %.3f, checkerboard %.4f | %.0fs',
  up, r['dice/lungs'], r['dice/heart'], r['dice/clavicles'], bg / n, cb / n, doll.mpi.wtime() - t0))
