-- %% [markdown]
-- # The DoLL story: from cheap labels to segmentation masks
-- Pixel masks are expensive; image-level findings are cheap. DoLL trains a classifier on the
-- cheap labels, explains it with Integrated Gradients, turns the explanations into masks
-- ("diagnosis-oriented localization labels"), pre-trains a U-Net on those masks, and then
-- fine-tunes **the same U-Net**, with a new output head, on a few real masks.
--
-- Here: phantom radiographs (embedded generator) → real JSRT radiographs with SCR masks (lungs,
-- heart, clavicles) when `../shared/data/jsrt` or `DOLL_DATA` is there, else phantom anatomy.
-- A few minutes on 2 cores; `doll export notebooks/doll_story.lua --html story.html` makes the
-- report. Small sizes and few epochs: a demonstration of the steps, not a measurement (the
-- study, `doll study`, measures with seeds and intervals).

-- %% setup
doll.seed(3)
size = 64
os.execute("mkdir -p out/story")
phantoms = doll.phantoms{n = 640, size = size, seed = 3, difficulty = 0.3}
train, val = phantoms:split(0.8, 3)
print(train)
print(val)

-- %% [markdown]
-- ## 1. A classifier from image-level labels
-- A small ResNet learns the 14 CheXpert observations of the phantoms.

-- %% classifier
clf = doll.classifier{widths = {16, 32, 64, 128}, blocks = {1, 1, 1, 1}, seed = 3}
history = clf:fit(train, {epochs = 6, batch = 16, lr = 3e-3, schedule = "cosine"})
scores = clf:evaluate(val)
print(string.format("validation: mean AUROC %.3f", scores.auroc_mean or 0 / 0))

-- %% [markdown]
-- ## 2. Where does it look? Integrated Gradients
-- Attributions of the "Cardiomegaly" logit for a validation image: the heart should light up.

-- %% explain
local cardio
for k, name in ipairs(doll.observations) do if name == "Cardiomegaly" then cardio = k end end
local case
for i = 1, #val do
  if val[i].labels[cardio] > 0.5 then case = val[i]; break end
end
case = case or val[1]
ig = doll.ig(clf, {steps = 32})
attribution, delta = ig:attribute(case.image, "Cardiomegaly")
print(string.format("completeness gap (sum of attributions − logit difference): %.2g", delta[1]))
doll.png.heatmap(attribution, "out/story/ig_cardiomegaly.png", {over = case.image, cmap = "inferno"})
local loc = doll.localization(attribution, case.masks.heart)
print(string.format("inside the heart: pointing game %s, %.0f %% of the attribution energy (the heart is %.0f %% of the image)",
  tostring(loc.pointing), 100 * loc.energy, 100 * loc.chance))

-- %% [markdown]
-- ## 3. DoLL labels: explanations become masks
-- For every training image and every finding it has, the IG map is smoothed and thresholded
-- into a mask. No pixel was labelled by hand.

-- %% labels
labels = doll.labels({clf}, train, {steps = 16})
print(labels)
channels = labels:classes()
print("label channels:", #channels)

-- %% [markdown]
-- ## 4. Pre-training a U-Net on the DoLL labels
-- The U-Net's encoder starts from the classifier's trunk; it learns to produce the 14 DoLL
-- masks end to end.

-- %% pre-train
pretrained = doll.unet{encoder = clf, classes = #channels, seed = 3}
pre_history = pretrained:fit(labels, {epochs = 4, batch = 16, lr = 2e-3, schedule = "cosine"})
print(string.format("DoLL pre-training: final loss %.4f", pre_history[#pre_history].loss))

-- %% [markdown]
-- ## 5. Fine-tuning on a few real masks: DoLL vs random initialisation
-- The pre-trained U-Net gets a **new head** for lungs, heart and clavicles
-- (`doll.unet{from = pretrained, ...}`: every weight but the head is kept); a U-Net of the same
-- shape starts from random weights. Both train on 25 % of the training fold, the same way.

-- %% data
local given = os.getenv("DOLL_DATA") or "../shared/data"
root = nil
for _, candidate in ipairs{given .. "/jsrt", given} do
  local f = io.open(candidate .. "/split.csv")
  if f then f:close(); root = candidate; break end
end
structures = {"lungs", "heart", "clavicles"}
if root then
  seg_train = doll.segdata{root = root, size = size, fold = 1}
  seg_test = doll.segdata{root = root, size = size, fold = 2}
  source = "JSRT/SCR radiographs (fold 1 → fold 2)"
else
  seg_train, seg_test = doll.phantoms{n = 200, size = size, seed = 11}:split(0.5, 11)
  source = "phantom anatomy (no JSRT folder found)"
end
print(source)
print(seg_train)

-- %% fine-tune
results = {}
for _, init in ipairs{"random", "doll"} do
  local net
  if init == "doll" then
    net = doll.unet{from = pretrained, structures = structures, seed = 7}
  else
    local fresh = doll.classifier{widths = {16, 32, 64, 128}, blocks = {1, 1, 1, 1}, seed = 9}
    net = doll.unet{encoder = fresh, structures = structures, seed = 7}
  end
  net:fit(seg_train, {epochs = 15, batch = 8, lr = 2e-3, fraction = 0.25, seed = 1, schedule = "cosine"})
  local r = net:evaluate(seg_test, {structures = structures})
  results[init] = {net = net, scores = r}
  print(string.format("%-7s lungs %.3f  heart %.3f  clavicles %.3f  (mean Dice %.3f)", init,
        r["dice/lungs"], r["dice/heart"], r["dice/clavicles"], r.dice_mean))
end

-- %% [markdown]
-- ## 6. Pictures
-- Dice per structure for both initialisations, and the two predictions on a test image
-- (threshold 0.5) next to the ground truth.

-- %% pictures
doll.plot.bar("out/story/dice.png", {categories = structures, title = "Dice on the test images",
  ylabel = "Dice", series = {
    {name = "random init", y = {results.random.scores["dice/lungs"], results.random.scores["dice/heart"], results.random.scores["dice/clavicles"]}},
    {name = "DoLL pre-trained", y = {results.doll.scores["dice/lungs"], results.doll.scores["dice/heart"], results.doll.scores["dice/clavicles"]}},
  }})
local s = seg_test[1]
doll.png.overlay(s.image, {lungs = s.masks.lungs, heart = s.masks.heart, clavicles = s.masks.clavicles},
                 "out/story/truth.png")
for _, init in ipairs{"random", "doll"} do
  local p = results[init].net:predict(s.image)[1]
  doll.png.overlay(s.image, {lungs = p[1]:gt(0.5), heart = p[2]:gt(0.5), clavicles = p[3]:gt(0.5)},
                   "out/story/" .. init .. ".png")
end
doll.png.montage("out/story/compare.png", {"out/story/truth.png", "out/story/random.png", "out/story/doll.png"},
                 {titles = {"ground truth", "random init", "DoLL pre-trained"}, columns = 3})

-- %% [markdown]
-- ## What this shows, and what it does not
-- Every arrow of the method ran in Lua: labels → classifier → IG → DoLL masks → pre-trained
-- U-Net → new head → fine-tuned segmenter. With one seed, tiny images and a few epochs the two
-- Dice rows can differ by chance; `doll study` repeats this over seeds and label fractions and
-- reports intervals.
