// oneDNN convolutions for the Swift engine (see include/doll_dnnl.h for the contract).
//
// One cache entry per geometry holds the primitive descriptors and primitives of the forward,
// backward-data and backward-weights passes, built on first use. Buffers cross the API in plain
// layouts (NCHW activations, PyTorch weight layouts); each call wraps them as oneDNN memories and
// reorders into whatever blocked layout the chosen kernel asked for (format "any"), and back.
// Scratchpads are user-managed and allocated per call, so one primitive may run on several
// threads at once.

#include "doll_dnnl.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

engine &cpu() {
    static engine e(engine::kind::cpu, 0);
    return e;
}

struct Key {
    doll_conv_geometry g;
    int training;
    bool operator<(const Key &o) const {
        int c = std::memcmp(&g, &o.g, sizeof g);
        return c != 0 ? c < 0 : training < o.training;
    }
};

struct Entry {
    bool ok = false;
    std::string impl;
    primitive_desc fwd_pd;
    primitive fwd;
    bool bwd_built = false;
    bool bwd_ok = false;
    primitive_desc bwd_data_pd, bwd_weights_pd;
    primitive bwd_data, bwd_weights;
};

void *(*alloc_fn)(size_t) = nullptr;
void (*free_fn)(void *, size_t) = nullptr;

/// Temporary buffers of one call (reorder targets, scratchpads), from the engine's buffer pool
/// when one is registered, returned when the call ends.
struct Scope {
    std::vector<std::pair<void *, size_t>> held;
    memory make(const memory::desc &md) {
        size_t bytes = md.get_size();
        if (!alloc_fn || bytes == 0) return memory(md, cpu());
        void *p = alloc_fn(bytes);
        if (!p) throw std::bad_alloc();
        held.emplace_back(p, bytes);
        return memory(md, cpu(), p);
    }
    ~Scope() {
        for (auto &h : held) free_fn(h.first, h.second);
    }
};

std::mutex cache_lock;
std::map<Key, std::shared_ptr<Entry>> cache;

memory::dims src_dims(const doll_conv_geometry &g) { return {g.n, g.cin, g.h, g.w}; }
memory::dims dst_dims(const doll_conv_geometry &g) { return {g.n, g.cout, g.oh, g.ow}; }
// oneDNN orders weights (output channels, input channels, kh, kw) for both kinds; a transposed
// convolution's PyTorch weights [cin, cout, kh, kw] are then the "iohw" layout of those dims.
memory::dims wei_dims(const doll_conv_geometry &g) { return {g.cout, g.cin, g.kh, g.kw}; }
tag wei_user_tag(const doll_conv_geometry &g) { return g.transposed ? tag::iohw : tag::oihw; }
memory::dims strides(const doll_conv_geometry &g) { return {g.sh, g.sw}; }
memory::dims dilates(const doll_conv_geometry &g) { return {g.dh - 1, g.dw - 1}; }
memory::dims pad_l(const doll_conv_geometry &g) { return {g.ph, g.pw}; }
memory::dims pad_r(const doll_conv_geometry &g) {
    if (g.transposed) {  // oh = (h−1)·s − pl − pr + d·(k−1) + 1
        return {(g.h - 1) * g.sh + g.dh * (g.kh - 1) + 1 - g.ph - g.oh, (g.w - 1) * g.sw + g.dw * (g.kw - 1) + 1 - g.pw - g.ow};
    }  // oh = (h + pl + pr − d·(k−1) − 1)/s + 1
    return {(g.oh - 1) * g.sh + g.dh * (g.kh - 1) + 1 - g.h - g.ph, (g.ow - 1) * g.sw + g.dw * (g.kw - 1) + 1 - g.w - g.pw};
}

memory::desc any(const memory::dims &d) { return memory::desc(d, dt::f32, tag::any); }

primitive_attr attributes(bool relu) {
    primitive_attr a;
    a.set_scratchpad_mode(scratchpad_mode::user);
    if (relu) {
        post_ops po;
        po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
        a.set_post_ops(po);
    }
    return a;
}

// Convolutions and transposed convolutions ("deconvolutions") have the same descriptor shapes;
// one template builds either from its three primitive types.
template <typename Fwd>
void build_forward(Entry &e, const doll_conv_geometry &g, bool training, algorithm alg) {
    prop_kind pk = training ? prop_kind::forward_training : prop_kind::forward_inference;
    memory::desc bias_md = g.bias ? memory::desc({g.cout}, dt::f32, tag::x) : memory::desc();
    typename Fwd::desc d(pk, alg, any(src_dims(g)), any(wei_dims(g)), bias_md, any(dst_dims(g)), strides(g), dilates(g),
                         pad_l(g), pad_r(g));
    auto pd = typename Fwd::primitive_desc(d, attributes(g.relu != 0), cpu());
    e.fwd = Fwd(pd);
    e.fwd_pd = pd;
    e.impl = pd.impl_info_str();
    e.ok = true;
}

template <typename Fwd, typename BwdData, typename BwdWeights>
void build_backward(Entry &e, const doll_conv_geometry &g, algorithm alg) {
    auto attr = attributes(false);
    memory::desc bias_md = g.bias ? memory::desc({g.cout}, dt::f32, tag::x) : memory::desc();
    auto hint = typename Fwd::primitive_desc(e.fwd_pd.get());
    typename BwdData::desc dd(alg, any(src_dims(g)), any(wei_dims(g)), any(dst_dims(g)), strides(g), dilates(g), pad_l(g),
                              pad_r(g));
    auto dpd = typename BwdData::primitive_desc(dd, attr, cpu(), hint);
    typename BwdWeights::desc wd(alg, any(src_dims(g)), any(wei_dims(g)), bias_md, any(dst_dims(g)), strides(g), dilates(g),
                                 pad_l(g), pad_r(g));
    auto wpd = typename BwdWeights::primitive_desc(wd, attr, cpu(), hint);
    e.bwd_data = BwdData(dpd);
    e.bwd_weights = BwdWeights(wpd);
    e.bwd_data_pd = dpd;
    e.bwd_weights_pd = wpd;
    e.bwd_ok = true;
}

void build_forward(Entry &e, const doll_conv_geometry &g, bool training) {
    if (g.transposed) build_forward<deconvolution_forward>(e, g, training, algorithm::deconvolution_direct);
    else build_forward<convolution_forward>(e, g, training, algorithm::convolution_direct);
}

void build_backward(Entry &e, const doll_conv_geometry &g) {
    if (g.transposed) {
        build_backward<deconvolution_forward, deconvolution_backward_data, deconvolution_backward_weights>(
            e, g, algorithm::deconvolution_direct);
    } else {
        build_backward<convolution_forward, convolution_backward_data, convolution_backward_weights>(
            e, g, algorithm::convolution_direct);
    }
}

/// The cached entry for a geometry (built on first use); nullptr when oneDNN refuses it.
std::shared_ptr<Entry> lookup(const doll_conv_geometry &g, bool training, bool backward, std::string &why) {
    Key k{g, training ? 1 : 0};
    std::lock_guard<std::mutex> guard(cache_lock);
    auto &slot = cache[k];
    if (!slot) {
        slot = std::make_shared<Entry>();
        try {
            build_forward(*slot, g, training);
        } catch (const dnnl::error &ex) {
            why = ex.what();
        }
    }
    if (!slot->ok) {
        if (why.empty()) why = "oneDNN has no implementation for this convolution";
        return nullptr;
    }
    if (backward && !slot->bwd_built) {
        slot->bwd_built = true;
        try {
            build_backward(*slot, g);
        } catch (const dnnl::error &ex) {
            why = ex.what();
        }
    }
    if (backward && !slot->bwd_ok) {
        if (why.empty()) why = "oneDNN has no backward implementation for this convolution";
        return nullptr;
    }
    return slot;
}

/// A user buffer in its plain layout, seen in the layout a primitive wants: the same memory when
/// the layouts agree, else a reordered copy (`in`) or a scratch to reorder back (`out`).
struct View {
    memory user, internal;
    bool copied = false;
};

View input(Scope &sc, stream &s, const memory::desc &plain, const void *ptr, const memory::desc &want) {
    View v;
    v.user = memory(plain, cpu(), const_cast<void *>(ptr));
    if (want == plain) {
        v.internal = v.user;
        return v;
    }
    v.internal = sc.make(want);
    v.copied = true;
    reorder(v.user, v.internal).execute(s, v.user, v.internal);
    return v;
}

View output(Scope &sc, const memory::desc &plain, void *ptr, const memory::desc &want) {
    View v;
    v.user = memory(plain, cpu(), ptr);
    if (want == plain) {
        v.internal = v.user;
        return v;
    }
    v.internal = sc.make(want);
    v.copied = true;
    return v;
}

void finish(stream &s, View &v) {
    if (v.copied) reorder(v.internal, v.user).execute(s, v.internal, v.user);
}

memory scratch(Scope &sc, const primitive_desc &pd) { return sc.make(pd.scratchpad_desc()); }

void fail(char *err, size_t errlen, const std::string &msg) {
    if (err && errlen) std::snprintf(err, errlen, "%s", msg.c_str());
}

/// Runs one call of the C API: `body` gets the call's buffer scope and stream and returns 0, or 1
/// with a message when oneDNN refuses the geometry; an exception becomes 2 and a message.
template <typename Body>
int guarded(char *err, size_t errlen, Body body) {
    try {
        std::string why;
        Scope sc;
        stream s(cpu());
        int rc = body(sc, s, why);
        if (rc != 0) fail(err, errlen, why);
        else s.wait();
        return rc;
    } catch (const std::exception &ex) {
        fail(err, errlen, ex.what());
        return 2;
    }
}

}  // namespace

extern "C" int doll_dnnl_conv_forward(const doll_conv_geometry *gp, int training, const float *src, const float *weights,
                                      const float *bias, float *dst, char *err, size_t errlen) {
    const doll_conv_geometry &g = *gp;
    return guarded(err, errlen, [&](Scope &sc, stream &s, std::string &why) {
        auto e = lookup(g, training != 0, false, why);
        if (!e) return 1;
        auto &pd = e->fwd_pd;
        View x = input(sc, s, memory::desc(src_dims(g), dt::f32, tag::nchw), src, pd.src_desc());
        View w = input(sc, s, memory::desc(wei_dims(g), dt::f32, wei_user_tag(g)), weights, pd.weights_desc());
        View y = output(sc, memory::desc(dst_dims(g), dt::f32, tag::nchw), dst, pd.dst_desc());
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x.internal}, {DNNL_ARG_WEIGHTS, w.internal},
                                             {DNNL_ARG_DST, y.internal}, {DNNL_ARG_SCRATCHPAD, scratch(sc, pd)}};
        if (g.bias) args[DNNL_ARG_BIAS] = memory(pd.weights_desc(1), cpu(), const_cast<float *>(bias));
        e->fwd.execute(s, args);
        finish(s, y);
        return 0;
    });
}

extern "C" int doll_dnnl_conv_backward(const doll_conv_geometry *gp, const float *src, const float *weights,
                                       const float *diff_dst, float *diff_src, float *diff_weights, float *diff_bias,
                                       char *err, size_t errlen) {
    doll_conv_geometry g = *gp;
    g.relu = 0;
    if (!diff_bias) g.bias = 0;
    return guarded(err, errlen, [&](Scope &sc, stream &s, std::string &why) {
        auto e = lookup(g, true, true, why);
        if (!e) return 1;
        memory::desc dst_plain(dst_dims(g), dt::f32, tag::nchw);
        View dy;   // diff_dst in the layout of the pass that reordered it first
        if (diff_src) {
            auto &pd = e->bwd_data_pd;
            dy = input(sc, s, dst_plain, diff_dst, pd.diff_dst_desc());
            View w = input(sc, s, memory::desc(wei_dims(g), dt::f32, wei_user_tag(g)), weights, pd.weights_desc());
            View dx = output(sc, memory::desc(src_dims(g), dt::f32, tag::nchw), diff_src, pd.diff_src_desc());
            e->bwd_data.execute(s, {{DNNL_ARG_DIFF_DST, dy.internal}, {DNNL_ARG_WEIGHTS, w.internal},
                                    {DNNL_ARG_DIFF_SRC, dx.internal}, {DNNL_ARG_SCRATCHPAD, scratch(sc, pd)}});
            finish(s, dx);
        }
        if (diff_weights) {  // reuses the reordered diff_dst when backward-weights wants the same layout
            auto &wpd = e->bwd_weights_pd;
            if (!diff_src || !(wpd.diff_dst_desc() == dy.internal.get_desc())) {
                dy = input(sc, s, dst_plain, diff_dst, wpd.diff_dst_desc());
            }
            View x = input(sc, s, memory::desc(src_dims(g), dt::f32, tag::nchw), src, wpd.src_desc());
            View dw = output(sc, memory::desc(wei_dims(g), dt::f32, wei_user_tag(g)), diff_weights, wpd.diff_weights_desc());
            std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x.internal}, {DNNL_ARG_DIFF_DST, dy.internal},
                                                 {DNNL_ARG_DIFF_WEIGHTS, dw.internal}, {DNNL_ARG_SCRATCHPAD, scratch(sc, wpd)}};
            if (g.bias) args[DNNL_ARG_DIFF_BIAS] = memory(wpd.diff_weights_desc(1), cpu(), diff_bias);
            e->bwd_weights.execute(s, args);
            finish(s, dw);
        }
        return 0;
    });
}

extern "C" void doll_dnnl_set_allocator(void *(*alloc)(size_t bytes), void (*release)(void *ptr, size_t bytes)) {
    alloc_fn = alloc;
    free_fn = release;
}

extern "C" int doll_dnnl_supports(const doll_conv_geometry *g) {
    std::string why;
    try {
        return lookup(*g, false, false, why) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

extern "C" const char *doll_dnnl_impl(const doll_conv_geometry *g) {
    static thread_local std::string out;
    std::string why;
    try {
        auto e = lookup(*g, false, false, why);
        out = e ? e->impl : "";
    } catch (...) {
        out = "";
    }
    return out.c_str();
}

extern "C" const char *doll_dnnl_version(void) {
    static std::string v = [] {
        const dnnl_version_t *p = dnnl_version();
        return std::to_string(p->major) + "." + std::to_string(p->minor) + "." + std::to_string(p->patch);
    }();
    return v.c_str();
}

extern "C" const char *doll_dnnl_isa(void) {
    switch (get_effective_cpu_isa()) {
        case cpu_isa::avx512_core_amx: return "avx512_core_amx";
        case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case cpu_isa::avx512_core: return "avx512_core";
        case cpu_isa::avx2_vnni: return "avx2_vnni";
        case cpu_isa::avx2: return "avx2";
        case cpu_isa::avx: return "avx";
        case cpu_isa::sse41: return "sse41";
        default: return "other";
    }
}
