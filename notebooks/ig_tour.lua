-- %% [markdown]
-- # A tour of Integrated Gradients
-- How the IG quadrature, the number of steps and the baseline change attributions, and how IG
-- compares with Saliency, SmoothGrad, Grad-CAM and Occlusion at localizing what the classifier
-- found. Ground truth comes from the phantoms, whose findings have masks.
--
-- `doll run notebooks/ig_tour.lua` (under a minute on 2 cores).

-- %% setup
doll.seed(3)
os.execute("mkdir -p out/ig_tour")
ph = doll.phantoms{n = 700, size = 64, seed = 3, difficulty = 0.3}
train, val = ph:split(0.8, 3)
clf = doll.classifier{widths = {16, 32, 64}, blocks = {1, 1, 1}, seed = 3}
hist = clf:fit(train, {epochs = 8, batch = 16, lr = 3e-3, schedule = "cosine", val = val})
print(string.format("classifier: validation mean AUROC %.3f", hist[#hist].val_auroc_mean))

-- Validation images with a positive, localized finding: {image, finding, mask}.
cases = {}
local wanted = {"Cardiomegaly", "Lung Opacity", "Pneumothorax", "Pleural Effusion", "Consolidation"}
for i = 1, #val do
  local s = val[i]
  for _, f in ipairs(wanted) do
    if s.masks[f] and s.masks[f]:sum():item() > 0 then
      cases[#cases + 1] = {image = s.image, finding = f, mask = s.masks[f]:sum(1), id = s.id}
      break
    end
  end
  if #cases == 12 then break end
end
print(#cases .. " cases:", table.concat((function() local t = {} for i, c in ipairs(cases) do t[i] = c.finding end return t end)(), ", "))

-- %% [markdown]
-- ## Quadrature and steps
-- IG integrates gradients along the straight path from a baseline to the image. Completeness
-- says the attributions sum to F(x) − F(baseline); the mean |delta| measures the integration
-- error of each rule as the number of steps grows.

-- %% quadratures
methods = {"riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"}
steps = {4, 8, 16, 32, 64}
series = {}
print(string.format("%-18s" .. string.rep("%10s", #steps), "mean |delta|", table.unpack(steps)))
for _, m in ipairs(methods) do
  local row = {}
  for j, n in ipairs(steps) do
    local ig = doll.ig(clf, {steps = n, method = m, batch = 64})
    local total = 0
    for k = 1, 4 do
      local _, delta = ig:attribute(cases[k].image, cases[k].finding)
      total = total + math.abs(delta[1])
    end
    row[j] = total / 4
  end
  series[#series + 1] = {name = m, x = steps, y = row}
  print(string.format("%-18s" .. string.rep("%10.2e", #steps), m, table.unpack(row)))
end
doll.plot.line("out/ig_tour/completeness.png", {series = series, logx = true, title = "IG completeness error",
                                                xlabel = "steps", ylabel = "mean |delta|"})

-- %% [markdown]
-- ## Baselines
-- The baseline defines "absence". Black (zeros), a blurred copy and uniform noise give
-- different maps; localization scores against the finding's mask say which one points at it.

-- %% baselines
function scores(explainer, n)             -- a global: the next cell uses it too
  local acc = {pointing = 0, energy = 0, auprc = 0, chance = 0}
  for k = 1, n do
    local c = cases[k]
    local a = explainer:attribute(c.image, c.finding)
    local r = doll.localization(a:sum(1):abs(), c.mask)
    for key in pairs(acc) do acc[key] = acc[key] + r[key] / n end
  end
  return acc
end
print(string.format("%-10s %9s %9s %9s %9s", "baseline", "pointing", "energy", "AUPRC", "chance"))
for _, b in ipairs({"zeros", "blur", "noise"}) do
  local r = scores(doll.ig(clf, {steps = 32, baseline = b, batch = 32}), #cases)
  print(string.format("%-10s %9.3f %9.3f %9.3f %9.3f", b, r.pointing, r.energy, r.auprc, r.chance))
end

-- %% [markdown]
-- ## Five explainers side by side
-- The same case explained five ways, then localization scores over all cases.

-- %% side by side
explainers = {
  {"IG", doll.ig(clf, {steps = 32, batch = 32})},
  {"Saliency", doll.saliency(clf)},
  {"SmoothGrad", doll.smoothgrad(clf, {samples = 16, sigma = 0.1, seed = 3})},
  {"Grad-CAM", doll.gradcam(clf)},
  {"Occlusion", doll.occlusion(clf, {window = 8, stride = 4})},
}
local c = cases[1]
doll.png.overlay(c.image, {[c.finding] = c.mask}, "out/ig_tour/case_truth.png")
names, pointing, energy = {}, {}, {}
for i, e in ipairs(explainers) do
  local a = e[2]:attribute(c.image, c.finding)
  doll.png.heatmap(a, "out/ig_tour/case_" .. e[1]:lower():gsub("%W", "") .. ".png", {over = c.image})
  local r = scores(e[2], #cases)
  names[i], pointing[i], energy[i] = e[1], r.pointing, r.energy
  print(string.format("%-10s pointing %.3f  energy in mask %.3f  AUPRC %.3f  (chance %.3f)", e[1], r.pointing, r.energy, r.auprc, r.chance))
end
doll.plot.bar("out/ig_tour/localization.png", {categories = names, series = {{name = "pointing", y = pointing}, {name = "energy in mask", y = energy}},
                                               title = "localization over " .. #cases .. " cases", ylabel = "score"})
