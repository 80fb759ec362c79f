-- %% [markdown]
-- # Fine-tuning on real radiographs (JSRT/SCR)
-- Does a segmenter whose encoder comes from a classifier trained on **phantoms** help on
-- **real** chest radiographs? The JSRT images with SCR masks (lungs, heart, clavicles) use the
-- standard two-fold split: fine-tune on part of fold 1, test on fold 2.
--
-- The data folder comes from the first argument or the `DOLL_DATA` environment variable
-- (either the `jsrt` folder itself or a folder containing it):
-- `DOLL_DATA=../shared/data doll run notebooks/jsrt_finetune.lua` (about a minute and a half on 2 cores).

-- %% data
local given = (arg and arg[1]) or os.getenv("DOLL_DATA")
assert(given, "give the JSRT folder as an argument or set DOLL_DATA (e.g. DOLL_DATA=../shared/data)")
root = given
local f = io.open(root .. "/split.csv")
if not f then root = given .. "/jsrt"; f = io.open(root .. "/split.csv") end
assert(f, "no JSRT data (split.csv) under " .. given)
f:close()
size = 96
os.execute("mkdir -p out")
train = doll.segdata{root = root, size = size, fold = 1}
test = doll.segdata{root = root, size = size, fold = 2}
structures = {"lungs", "heart", "clavicles"}
print(train)
print(test)

-- %% [markdown]
-- ## An encoder from phantoms
-- A small ResNet classifier learns the phantom observations; its trunk initialises the U-Net.

-- %% classifier on phantoms
doll.seed(5)
ph = doll.phantoms{n = 800, size = size, seed = 5, difficulty = 0.3}
clf = doll.classifier{widths = {16, 32, 64, 128}, blocks = {1, 1, 1, 1}, seed = 5}
hist = clf:fit(ph, {epochs = 5, batch = 16, lr = 3e-3, schedule = "cosine"})
print(string.format("phantom classifier trained: final loss %.4f", hist[#hist].loss))

-- %% [markdown]
-- ## Fine-tuning: random vs classifier-initialised encoder
-- Both U-Nets have the same ResNet encoder shape; one starts from random weights, the other
-- from the phantom classifier. Each trains on 25% of fold 1 and is scored on fold 2.

-- %% fine-tune
results = {}
for _, init in ipairs({"random", "classifier"}) do
  local enc = init == "classifier" and clf or doll.classifier{widths = {16, 32, 64, 128}, blocks = {1, 1, 1, 1}, seed = 6}
  local net = doll.unet{encoder = enc, structures = structures, seed = 7}
  local h = net:fit(train, {epochs = 12, batch = 8, lr = 2e-3, fraction = 0.25, seed = 1, structures = structures, schedule = "cosine"})
  local r = net:evaluate(test, {structures = structures})
  results[init] = {net = net, scores = r}
  print(string.format("%-10s  lungs %.3f  heart %.3f  clavicles %.3f  (mean Dice %.3f)", init,
        r["dice/lungs"], r["dice/heart"], r["dice/clavicles"], r.dice_mean))
end

-- %% [markdown]
-- ## A test radiograph
-- Ground truth and the classifier-initialised U-Net's prediction (threshold 0.5).

-- %% picture
local s = test[1]
local p = results.classifier.net:predict(s.image)[1]
local pred = {}
for i, name in ipairs(structures) do pred[name] = p:slice(1, i, i):gt(0.5) end
doll.png.overlay(s.image, {lungs = s.masks.lungs, heart = s.masks.heart, clavicles = s.masks.clavicles}, "out/jsrt_truth.png")
doll.png.overlay(s.image, pred, "out/jsrt_prediction.png")
print("wrote out/jsrt_truth.png and out/jsrt_prediction.png for " .. s.id)
