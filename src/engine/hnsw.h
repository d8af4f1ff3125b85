/* wirebuf: approximate k-NN graph (HNSW) for `wirebuf serve`'s pgvector
 * indexes, a C interface over Debian's hnswlib (header-only C++,
 * /usr/include/hnswlib; Malkov & Yashunin, "Efficient and robust
 * approximate nearest neighbor search using Hierarchical Navigable Small
 * World graphs", 2016).
 *
 * Points are float vectors of `dim` floats labelled by an SQLite rowid.
 * Spaces (kind, as wb_knn's): 0 L2 (hnswlib's squared L2), 1 inner product
 * (hnswlib's 1 - a.b; nearest = largest a.b = smallest pgvector <#>),
 * 2 cosine (points and queries are normalised here, then inner product).
 * One owner per index (a connection's wb_knn table); not thread-safe: one
 * thread at a time. Errors (allocation, hnswlib exceptions) are returned as
 * -1 / NULL and leave the index as it was before the failing call. */
#ifndef WB_ENGINE_HNSW_H
#define WB_ENGINE_HNSW_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct wb_hnsw wb_hnsw;

/* a new empty index; m and ef_construction as pgvector's WITH options;
 * capacity grows as points are added. NULL on failure. */
wb_hnsw *wb_hnsw_new(int kind, int dim, int m, int ef_construction);
void wb_hnsw_free(wb_hnsw *h); /* NULL: nothing */
/* insert or replace the point labelled rowid (a deleted label comes back).
 * A cosine point of norm 0 is not indexed (pgvector does not index it);
 * returns 0, or -1 on failure. */
int wb_hnsw_add(wb_hnsw *h, int64_t rowid, const float *v);
/* mark the point deleted (no longer returned); absent labels: nothing */
void wb_hnsw_delete(wb_hnsw *h, int64_t rowid);
/* up to k labels nearest to q (dim floats) with search width
 * max(ef_search, k), written to out; returns their number, or -1. The
 * order is unspecified: callers compute exact distances. */
int64_t wb_hnsw_search(wb_hnsw *h, const float *q, int64_t k, int ef_search, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
