/* dlgrad random numbers: Philox4x32-10 (Salmon et al., SC'11), one block per element.
   key = (seed, counter) as int64; element i of a draw uses counter words
   (lo32(i), hi32(i), lo32(counter), hi32(counter)) and key words (lo32(seed), hi32(seed)).
   graph/ops/random.py holds the numpy reference these agree with bit for bit. */
static inline void dl_philox4x32(uint32_t x[4], const int64_t *key, int64_t i) {
    const uint64_t seed = (uint64_t)key[0], counter = (uint64_t)key[1];
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)(uint64_t)i, c1 = (uint32_t)((uint64_t)i >> 32);
    uint32_t c2 = (uint32_t)counter, c3 = (uint32_t)(counter >> 32);
    for (int r = 0; r < 10; ++r) {
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    x[0] = c0; x[1] = c1; x[2] = c2; x[3] = c3;
}
static inline double dl_unit53(uint32_t a, uint32_t b) {
    return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * 0x1p-53;
}
static inline float dl_rand_uniformf(const int64_t *key, int64_t i) {
    uint32_t x[4];
    dl_philox4x32(x, key, i);
    return (float)(x[0] >> 8) * 0x1p-24f;
}
static inline double dl_rand_uniform(const int64_t *key, int64_t i) {
    uint32_t x[4];
    dl_philox4x32(x, key, i);
    return dl_unit53(x[0], x[1]);
}
static inline double dl_rand_normal(const int64_t *key, int64_t i) {
    uint32_t x[4];
    dl_philox4x32(x, key, i);
    const double u = dl_unit53(x[0], x[1]), v = dl_unit53(x[2], x[3]);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}
static inline float dl_rand_normalf(const int64_t *key, int64_t i) {
    return (float)dl_rand_normal(key, i);
}
