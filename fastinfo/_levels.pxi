# Parquet's RLE / bit-packed hybrid runs (the repetition and definition levels of a list
# column, and dictionary indices), decoded for the page reader of fastinfo/_pages.py
# (included by _core.pyx). Every read is bounded by the section it is given; a section that
# ends early, or levels that are not the expected ones, give -1 and the caller hands the
# pages to pyarrow, which names the fault.

cdef inline Py_ssize_t _run_header(const unsigned char* b, Py_ssize_t* pos, Py_ssize_t end) noexcept nogil:
    """The ULEB128 header of the next run, or -1 when the section ends inside it or it is
    not one pyarrow reads (more than 5 bytes, or past 32 bits)."""
    cdef unsigned long long v = 0, c
    cdef int k
    for k in range(5):
        if pos[0] >= end:
            return -1
        c = b[pos[0]]
        pos[0] += 1
        v |= (c & 0x7F) << (7 * k)
        if c < 0x80:
            if v > 0xFFFFFFFFULL:
                return -1
            return <Py_ssize_t>v
    return -1


cdef inline unsigned long long _packed(const unsigned char* b, Py_ssize_t j, int bw) noexcept nogil:
    """Value j of bit-packed values of width bw (0..32, least significant bit first) from b:
    the bytes holding its bits only, so never past its group of 8."""
    cdef Py_ssize_t bit = j * bw, at = bit >> 3
    cdef int sh = bit & 7, need = (sh + bw + 7) >> 3, k
    cdef unsigned long long v = 0
    for k in range(need):
        v |= (<unsigned long long>b[at + k]) << (8 * k)
    return (v >> sh) & ((<unsigned long long>1 << bw) - 1)


cdef enum:
    _ROWS = 0       # repetition levels: 0 at a row's first value, 1 elsewhere
    _ALL = 1        # every level equal to one value
    _INDICES = 2    # dictionary indices, written out


cdef Py_ssize_t _runs(const unsigned char* b, Py_ssize_t pos, Py_ssize_t end, int bw, Py_ssize_t n,
                      int what, Py_ssize_t v0, Py_ssize_t K, unsigned long long want,
                      int* out, Py_ssize_t first, Py_ssize_t i, Py_ssize_t* resume) noexcept nogil:
    """Walk the hybrid runs in b[pos:end] (the run at pos holding value i on) up to value
    first + n: 0, or -1 on a short section, a run header pyarrow refuses, or a value of
    [first, first + n) that is not as ``what`` asks (for _INDICES, want is the dictionary's
    size, and value first + j goes to out[j]; the values before first are passed over, not
    checked: an earlier call checked them). resume, if given, gets the last run's header
    position and first value, for the next call to start there."""
    cdef Py_ssize_t h, g, cnt, j, v, lo, hi, total = first + n, nb, nbytes = (bw + 7) >> 3
    cdef Py_ssize_t run_pos = pos, run_i = i
    cdef unsigned long long val
    cdef int k
    while i < total:
        run_pos, run_i = pos, i
        h = _run_header(b, &pos, end)
        if h < 0:
            return -1
        if h & 1:                               # bit-packed: g groups of 8 values
            g = h >> 1
            # pyarrow's limit on g; with it, g * 8 and g * bw cannot overflow
            if g == 0 or g > 0x0FFFFFFF:
                return -1
            nb = g * bw
            if nb > end - pos:
                return -1
            cnt = g * 8
            lo, hi = max(first - i, 0), min(cnt, total - i)
            for j in range(lo, hi):
                val = _packed(b + pos, j, bw)
                if what == _ROWS:
                    if val != (0 if (v0 + i + j) % K == 0 else 1):
                        return -1
                elif what == _ALL:
                    if val != want:
                        return -1
                else:
                    if val >= want:
                        return -1
                    out[i + j - first] = <int>val
            pos += nb
        else:                                   # a run of h >> 1 equal values
            cnt = h >> 1
            if cnt == 0 or nbytes > end - pos:
                return -1
            val = 0
            for k in range(nbytes):
                val |= (<unsigned long long>b[pos + k]) << (8 * k)
            pos += nbytes
            lo, hi = max(first - i, 0), min(cnt, total - i)
            if lo < hi:
                if what == _ROWS:
                    v = (v0 + i + lo) % K
                    if val == 0:                # every value a row's first: rows of one value
                        if K != 1 and not (hi - lo == 1 and v == 0):
                            return -1
                    elif val == 1:              # no row starts inside the run
                        if v == 0 or v + (hi - lo) > K:
                            return -1
                    else:
                        return -1
                elif what == _ALL:
                    if val != want:
                        return -1
                else:
                    if val >= want:
                        return -1
                    for j in range(lo, hi):
                        out[i + j - first] = <int>val
        i += min(cnt, total - i)
    if resume != NULL:
        resume[0], resume[1] = run_pos, run_i
    return 0


cdef inline bint _section_ok(const unsigned char[::1] buf, Py_ssize_t pos, Py_ssize_t end):
    return 0 <= pos <= end <= buf.shape[0]


def hybrid_rows(const unsigned char[::1] buf, Py_ssize_t pos, Py_ssize_t end, int bw,
                Py_ssize_t n, Py_ssize_t v0, Py_ssize_t K):
    """Check n repetition levels (width bw) in buf[pos:end] of a list column whose rows hold K
    values each: 0 where the value is the first of a row (value v0 + i of the row group,
    v0 + i a multiple of K), 1 elsewhere. Returns 0, or -1 when they are not so."""
    cdef Py_ssize_t r
    if not _section_ok(buf, pos, end) or bw < 1 or bw > 8 or K < 1 or v0 < 0 or n < 0:
        return -1
    if n == 0:
        return 0
    if end == pos:
        return -1
    with nogil:
        r = _runs(&buf[0], pos, end, bw, n, _ROWS, v0, K, 0, NULL, 0, 0, NULL)
    return r


def hybrid_all(const unsigned char[::1] buf, Py_ssize_t pos, Py_ssize_t end, int bw,
               Py_ssize_t n, long long value):
    """Whether n levels (width bw) in buf[pos:end] all equal value (a list column's definition
    levels: no null lists, no null values): 0 if so, -1 if not."""
    cdef Py_ssize_t r
    if not _section_ok(buf, pos, end) or bw < 1 or bw > 8 or value < 0 or n < 0:
        return -1
    if n == 0:
        return 0
    if end == pos:
        return -1
    with nogil:
        r = _runs(&buf[0], pos, end, bw, n, _ALL, 0, 1, <unsigned long long>value, NULL, 0, 0, NULL)
    return r


def hybrid_indices(const unsigned char[::1] buf, Py_ssize_t pos, Py_ssize_t end, int bw,
                   int[::1] out, Py_ssize_t size, Py_ssize_t first=0, Py_ssize_t[::1] resume=None):
    """Decode dictionary indices first .. first + len(out) (width bw, 0..32) from
    buf[pos:end] into out, each checked to be below size (the dictionary's length): 0, or
    -1 on a short section, a run header pyarrow refuses or an index out of range. With
    resume (two integers, [pos, 0] before the first call), the walk starts where the last
    call's ended and records where this one ends: slices of a page in linear time."""
    cdef Py_ssize_t r, n = out.shape[0], start = pos, i = 0
    cdef Py_ssize_t* rp = NULL
    if not _section_ok(buf, pos, end) or bw < 0 or bw > 32 or size < 0 or first < 0:
        return -1
    if resume is not None:
        if resume.shape[0] != 2 or not (pos <= resume[0] <= end) or not (0 <= resume[1] <= first):
            return -1
        start, i, rp = resume[0], resume[1], &resume[0]
    if n == 0:
        return 0
    if end == start:
        return -1
    with nogil:
        r = _runs(&buf[0], start, end, bw, n, _INDICES, 0, 1, <unsigned long long>size, &out[0], first, i, rp)
    return r
