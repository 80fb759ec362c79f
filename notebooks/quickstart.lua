-- %% [markdown]
-- # DoLL quickstart
-- Phantom radiographs → a small classifier → an Integrated Gradients heatmap → DoLL masks.
-- Run it with `doll run notebooks/quickstart.lua` (about a minute on 2 cores).

-- %%
doll.seed(1)
local ph = doll.phantoms{n = 600, size = 64, seed = 1, difficulty = 0.3}
local train, val = ph:split(0.8, 1)
print(ph)

-- %%
local clf = doll.classifier{widths = {16, 32, 64}, blocks = {1, 1, 1}, seed = 1}
local hist = clf:fit(train, {epochs = 6, batch = 16, lr = 3e-3, schedule = "cosine", val = val})
print(string.format("validation mean AUROC after %d epochs: %.3f", #hist, hist[#hist].val_auroc_mean))

-- %%
local ig = doll.ig(clf, {steps = 32, method = "gausslegendre", batch = 32})
for i = 1, #val do
  local s = val[i]
  if s.labels[3] == 1 then                       -- Cardiomegaly (label 3 in doll.observations)
    local attr, delta = ig:attribute(s.image, "Cardiomegaly")
    os.execute("mkdir -p out")
    doll.png.heatmap(attr, "out/cardiomegaly_ig.png", {over = s.image, cmap = "inferno"})
    doll.png.overlay(s.image, {cardiomegaly = s.masks["Cardiomegaly"]}, "out/cardiomegaly_truth.png")
    print(string.format("%s: completeness delta %.2e", s.id, delta[1]))
    print("pointing game hit:", doll.pointing(attr:sum(1), s.masks["Cardiomegaly"]:sum(1), 2))
    break
  end
end

-- %%
local labels = doll.labels({clf}, val, {steps = 16, threshold = "p95", n = 40})
labels:write("out/doll_labels")
print(labels)
