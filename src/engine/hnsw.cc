// wirebuf: the C interface of src/engine/hnsw.h over hnswlib.
#include "hnsw.h"

#include <hnswlib/hnswlib.h>

#include <cmath>
#include <new>
#include <vector>

struct wb_hnsw {
    int kind, dim;
    size_t m, efc;
    hnswlib::SpaceInterface<float> *space;
    hnswlib::HierarchicalNSW<float> *index;
    std::vector<float> tmp;
};

static const float *prepare(wb_hnsw *h, const float *v)
{
    if (h->kind != 2) return v;
    double n = 0;
    for (int i = 0; i < h->dim; i++) n += (double)v[i] * v[i];
    if (!(n > 0) || !std::isfinite(n)) return nullptr;
    float s = (float)(1.0 / std::sqrt(n));
    for (int i = 0; i < h->dim; i++) h->tmp[i] = v[i] * s;
    return h->tmp.data();
}

extern "C" wb_hnsw *wb_hnsw_new(int kind, int dim, int m, int ef_construction)
{
    if (kind < 0 || kind > 2 || dim <= 0 || m < 2 || ef_construction < 4) return nullptr;
    wb_hnsw *h = new (std::nothrow) wb_hnsw();
    if (!h) return nullptr;
    try {
        h->kind = kind;
        h->dim = dim;
        h->m = (size_t)m;
        h->efc = (size_t)ef_construction;
        h->tmp.resize((size_t)dim);
        if (kind == 0) h->space = new hnswlib::L2Space((size_t)dim);
        else h->space = new hnswlib::InnerProductSpace((size_t)dim);
        h->index = new hnswlib::HierarchicalNSW<float>(h->space, 1024, h->m, h->efc);
    } catch (...) {
        wb_hnsw_free(h);
        return nullptr;
    }
    return h;
}

extern "C" void wb_hnsw_free(wb_hnsw *h)
{
    if (!h) return;
    delete h->index;
    delete h->space;
    delete h;
}

extern "C" int wb_hnsw_add(wb_hnsw *h, int64_t rowid, const float *v)
{
    const float *p = prepare(h, v);
    try {
        if (!p) { // not indexable (cosine of a zero vector): not returned
            wb_hnsw_delete(h, rowid);
            return 0;
        }
        if (h->index->cur_element_count >= h->index->max_elements_)
            h->index->resizeIndex(h->index->max_elements_ * 2);
        h->index->addPoint(p, (hnswlib::labeltype)rowid);
    } catch (...) {
        return -1;
    }
    return 0;
}

extern "C" void wb_hnsw_delete(wb_hnsw *h, int64_t rowid)
{
    try {
        h->index->markDelete((hnswlib::labeltype)rowid);
    } catch (...) { // not there (or already deleted): nothing to do
    }
}

extern "C" int64_t wb_hnsw_search(wb_hnsw *h, const float *q, int64_t k, int ef_search, int64_t *out)
{
    if (k <= 0) return 0;
    const float *p = prepare(h, q);
    if (!p) return 0;
    try {
        h->index->setEf((size_t)(ef_search > 0 ? ef_search : 40));
        auto r = h->index->searchKnn(p, (size_t)k);
        int64_t n = 0;
        while (!r.empty()) {
            out[n++] = (int64_t)r.top().second;
            r.pop();
        }
        return n;
    } catch (...) {
        return -1;
    }
}
