-- %% [markdown]
-- # DoLL quickstart
-- Phantom radiographs → a small classifier → an Integrated Gradients heatmap → DoLL masks.
--
-- Run it with `doll run notebooks/quickstart.lua` (about a minute on 2 cores), or export a
-- report with `doll export notebooks/quickstart.lua --html quickstart.html`.
-- Cells share **globals** (locals stay inside their cell, as in the REPL).

-- %% data
doll.seed(1)
os.execute("mkdir -p out")
ph = doll.phantoms{n = 800, size = 64, seed = 1, difficulty = 0.3}
train, val = ph:split(0.8, 1)
print(ph)
print("observations:", table.concat(ph:classes(), ", "))

-- %% [markdown]
-- ## A classifier
-- A small ResNet (3 stages) learns the 14 CheXpert-style observations of the phantoms.

-- %% classifier
clf = doll.classifier{widths = {16, 32, 64}, blocks = {1, 1, 1}, seed = 1}
hist = clf:fit(train, {epochs = 12, batch = 16, lr = 3e-3, schedule = "cosine", val = val})
print(string.format("validation mean AUROC after %d epochs: %.3f", #hist, hist[#hist].val_auroc_mean))
local loss, auroc = {}, {}
for i, h in ipairs(hist) do loss[i], auroc[i] = h.loss, h.val_auroc_mean end
doll.plot.line("out/quickstart_training.png", {series = {{name = "train loss", y = loss}, {name = "val mean AUROC", y = auroc}},
               title = "classifier training", xlabel = "epoch"})

-- %% [markdown]
-- ## Explaining one image
-- Integrated Gradients (Gauss–Legendre, 32 steps) for *Cardiomegaly* on a validation phantom
-- that has it; the completeness delta says how well the attributions sum to the logit change.

-- %% integrated gradients
ig = doll.ig(clf, {steps = 32, method = "gausslegendre", batch = 32})
for i = 1, #val do
  local s = val[i]
  if s.labels[3] == 1 then                       -- Cardiomegaly (label 3 in doll.observations)
    attr, delta = ig:attribute(s.image, "Cardiomegaly")
    doll.png.heatmap(attr, "out/cardiomegaly_ig.png", {over = s.image, cmap = "inferno"})
    doll.png.overlay(s.image, {cardiomegaly = s.masks["Cardiomegaly"]}, "out/cardiomegaly_truth.png")
    print(string.format("%s: completeness delta %.2e", s.id, delta[1]))
    print("pointing game hit:", doll.pointing(attr:sum(1), s.masks["Cardiomegaly"]:sum(1), 2))
    break
  end
end

-- %% [markdown]
-- ## DoLL labels
-- Attributions of the positive observations, smoothed and thresholded at their 95th
-- percentile, become localization masks for 40 images.

-- %% doll labels
labels = doll.labels({clf}, val, {steps = 16, threshold = "p95", n = 40})
print(labels)
for k = 1, #labels do
  local l, s = labels[k], val[k]                  -- labels[k] is made from val[k]
  local cardio = l.mask:slice(1, 3, 3)            -- channel 3: Cardiomegaly
  if cardio:sum():item() > 0 then
    doll.png.overlay(s.image, {doll = cardio, truth = s.masks["Cardiomegaly"]}, "out/cardiomegaly_doll_mask.png")
    local truth = s.masks["Cardiomegaly"]
    local overlap = (cardio * truth):sum():item()
    print(string.format("%s: DoLL mask vs truth Dice %.3f", s.id, 2 * overlap / (cardio:sum():item() + truth:sum():item())))
    break
  end
end
