-- Data-parallel speed: a training epoch and DoLL labelling, timed with the share spent in
-- collective calls. Compare 2 ranks × 1 thread with 1 process × 2 threads (scripts/mpi_bench.sh):
--   OMP_NUM_THREADS=2 doll run scripts/mpi_bench.lua [size [ig_steps [label_images]]]
--   OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 doll run scripts/mpi_bench.lua [size [ig_steps [label_images]]]
local size = tonumber(arg and arg[1]) or 128
local steps = tonumber(arg and arg[2]) or 16
local nLabel = tonumber(arg and arg[3]) or 16
local ranks = doll.mpi.size()
local train = doll.phantoms{n = 64, size = size, seed = 1}
local clf = doll.classifier{seed = 1}                 -- ResNetCXR: widths 32…256, 2.8 M weights
clf:fit(train, {epochs = 1, batch = 16})   -- warm-up (kernels, buffers)

local t0, c0 = doll.mpi.wtime(), doll.mpi.seconds()
clf:fit(train, {epochs = 1, batch = 16})
local trainSeconds, trainComm = doll.mpi.wtime() - t0, doll.mpi.seconds() - c0

local images = doll.phantoms{n = nLabel, size = size, seed = 2}
doll.mpi.barrier()
t0, c0 = doll.mpi.wtime(), doll.mpi.seconds()
local labels = doll.labels({clf}, images, {steps = steps})
local labelSeconds, labelComm = doll.mpi.wtime() - t0, doll.mpi.seconds() - c0

-- positive observations labelled per image (each costs one IG run per classifier)
local positives = 0
for i = 1, #labels do
  local m = labels[i].mask
  for c = 1, m:shape()[1] do if m[c]:sum():item() > 0 then positives = positives + 1 end end
end
-- rank 0's times (the ranks meet at every step, so they finish together)
if doll.mpi.rank() == 0 then
  print(string.format(
    '{"ranks": %d, "size": %d, "train_epoch_s": %.2f, "train_comm_share": %.3f, "train_images_per_s": %.2f, '
      .. '"label_s": %.2f, "label_comm_share": %.3f, "label_images_per_s": %.3f, "ig_steps": %d, "positives_per_image": %.2f}',
    ranks, size, trainSeconds, trainComm / trainSeconds, #train / trainSeconds,
    labelSeconds, labelComm / labelSeconds, #images / labelSeconds, steps, positives / #labels))
end
