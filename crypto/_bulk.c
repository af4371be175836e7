/* crypto._bulk: the bulk-import hot path of crypto/ in one C call per part of a file.
 *
 * Each byte-for-byte equal to the Python reference it speeds up (checked by
 * tests/crypto/test_bulk.py on random inputs):
 *
 *   mac_hex(key, messages, prefix, take) -> list[str]
 *       prefix + hex(HMAC-SHA256(key, m)[:take]) for each m: `PinnedIndex.hex_candidates`
 *       and `compute(...).hex()` (crypto/blind_index.py) without a Python call per value.
 *
 *   gcm_many(key, prefix, plaintexts, aads, nonces) -> list[bytes]
 *       prefix ‖ nonce ‖ AES-256-GCM(key, nonce, plaintext, aad) for each plaintext, the nonces
 *       taken 12 bytes at a time: `LocalKeyProvider.wrap` of many data keys (crypto/keys.py).
 *
 *   seal_rows(deks, info, header, tails, prefixes, rows, nonces) -> list[list[bytes | None]]
 *       Row i is sealed under the field key HKDF-SHA256(deks[32i:32i+32], no salt, info), as
 *       `crypto.dek.Dek` derives it, each value exactly as `FieldCipher.encrypt_row` seals it
 *       (crypto/envelope.py "Field format"): header ‖ CRC-32(aad) ‖ nonce ‖ AES-256-GCM(pt,
 *       aad = header ‖ CRC-32 ‖ prefixes[j] ‖ tails[33i:33i+33]); a str is sealed as its UTF-8.
 *       None stays None. Nonces are taken 12 bytes at a time in row order, exactly 12 per value.
 *
 *   FieldKey(key).seal(header, aad, plaintext, nonce) -> bytes
 *   FieldKey(key).open(sealed, aad) -> bytes | None
 *       One field value sealed or opened under a field key whose AES key schedule and GHASH
 *       table are computed once (the hot read and write paths of `FieldCipher`, crypto/
 *       envelope.py; `Dek` holds one): header ‖ CRC-32(aad) ‖ nonce ‖ AES-256-GCM(pt, aad =
 *       header ‖ CRC-32 ‖ aad), as it was made with `AESGCM`; `open` gives None when the tag
 *       does not verify (the plaintext it computed is wiped first).
 *
 * Why C: an import seals five or six values and computes five HMACs per row; in Python each is
 * a handful of calls around a sub-microsecond primitive, and that glue was a third of an
 * import's time (docs/benchmarks.md). The primitives are OpenSSL's (EVP, AES-NI where the CPU
 * has it). Key bytes live in stack buffers that are wiped before return.
 */
#define PY_SSIZE_T_CLEAN
/* SHA256_Init/Update/Final are marked deprecated in OpenSSL 3 (in favour of EVP) but kept and
 * supported; see hmac_init for why they are used. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <zlib.h>

#define BLOCK 64
#define DIGEST 32
#define KEY_BYTES 32
#define NONCE 12
#define TAG 16
#define HEADER 5
#define TAIL 33
#define MAX_AAD 1024
#define MAX_COLUMNS 64
#define MAX_ROWS 1000000 /* per call: keeps rows × columns far from overflow */

/* Fetched once at import: an implicit fetch by name on every init costs more than the work. */
static EVP_CIPHER *aes_256_gcm;

/* HMAC-SHA256 on OpenSSL's SHA-256 block functions, its key schedule hashed once: each MAC
 * copies two primed states (plain structs) instead of going through EVP's provider dispatch,
 * which costs more than the hashing for the short messages here. */
typedef struct {
    SHA256_CTX inner, outer;
} Hmac;

static void hmac_free(Hmac *h) { OPENSSL_cleanse(h, sizeof *h); }

/* Prime the inner and outer SHA-256 states with the padded key (RFC 2104). */
static int hmac_init(Hmac *h, const unsigned char *key, size_t len) {
    unsigned char block[BLOCK], pad[BLOCK];
    int ok = 0;
    memset(block, 0, sizeof block);
    if (len > BLOCK) {
        if (!SHA256(key, len, block)) goto done;
    } else {
        memcpy(block, key, len);
    }
    for (int i = 0; i < BLOCK; i++) pad[i] = block[i] ^ 0x36;
    if (!SHA256_Init(&h->inner) || !SHA256_Update(&h->inner, pad, BLOCK)) goto done;
    for (int i = 0; i < BLOCK; i++) pad[i] = block[i] ^ 0x5c;
    if (!SHA256_Init(&h->outer) || !SHA256_Update(&h->outer, pad, BLOCK)) goto done;
    ok = 1;
done:
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    return ok;
}

static int hmac_run(const Hmac *h, const unsigned char *msg, size_t len, unsigned char out[DIGEST]) {
    SHA256_CTX work = h->inner;
    int ok = SHA256_Update(&work, msg, len) && SHA256_Final(out, &work);
    work = h->outer;
    ok = ok && SHA256_Update(&work, out, DIGEST) && SHA256_Final(out, &work);
    OPENSSL_cleanse(&work, sizeof work);
    return ok;
}

static PyObject *openssl_error(const char *what) {
    ERR_clear_error(); /* leave no stale error for the next OpenSSL user on this thread */
    PyErr_Format(PyExc_RuntimeError, "OpenSSL failed: %s", what);
    return NULL;
}

static PyObject *mac_hex(PyObject *self, PyObject *args) {
    static const char digits[] = "0123456789abcdef";
    Py_buffer key;
    PyObject *messages, *prefix;
    Py_ssize_t take;
    if (!PyArg_ParseTuple(args, "y*O!Un", &key, &PyList_Type, &messages, &prefix, &take)) return NULL;
    Hmac h;
    PyObject *out = NULL;
    unsigned char mac[DIGEST];
    memset(&h, 0, sizeof h);
    Py_ssize_t head = PyUnicode_GET_LENGTH(prefix);
    if (take < 1 || take > DIGEST) {
        PyErr_SetString(PyExc_ValueError, "take is 1..32 bytes");
        goto done;
    }
    if (!PyUnicode_IS_ASCII(prefix)) {
        PyErr_SetString(PyExc_ValueError, "the prefix is ASCII (hex)");
        goto done;
    }
    if (!hmac_init(&h, key.buf, (size_t)key.len)) {
        openssl_error("HMAC key");
        goto done;
    }
    Py_ssize_t n = PyList_GET_SIZE(messages);
    if (!(out = PyList_New(n))) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i >= PyList_GET_SIZE(messages)) {
            PyErr_SetString(PyExc_RuntimeError, "the messages changed while being hashed");
            Py_CLEAR(out);
            goto done;
        }
        PyObject *m = PyList_GET_ITEM(messages, i);
        if (!PyBytes_Check(m)) {
            PyErr_SetString(PyExc_TypeError, "messages are bytes");
            Py_CLEAR(out);
            goto done;
        }
        if (!hmac_run(&h, (unsigned char *)PyBytes_AS_STRING(m), (size_t)PyBytes_GET_SIZE(m), mac)) {
            Py_CLEAR(out);
            openssl_error("HMAC");
            goto done;
        }
        PyObject *text = PyUnicode_New(head + 2 * take, 127);
        if (!text) {
            Py_CLEAR(out);
            goto done;
        }
        Py_UCS1 *chars = PyUnicode_1BYTE_DATA(text);
        memcpy(chars, PyUnicode_1BYTE_DATA(prefix), (size_t)head);
        for (Py_ssize_t b = 0; b < take; b++) {
            chars[head + 2 * b] = digits[mac[b] >> 4];
            chars[head + 2 * b + 1] = digits[mac[b] & 15];
        }
        PyList_SET_ITEM(out, i, text);
    }
done:
    OPENSSL_cleanse(mac, sizeof mac);
    hmac_free(&h);
    PyBuffer_Release(&key);
    return out;
}

/* HKDF-SHA256 (RFC 5869) to one 32-byte block: PRK = HMAC(salt, ikm) with `salt` primed for
 * 32 zero bytes (no salt); OKM = HMAC(PRK, info ‖ 0x01). */
static int hkdf_block(Hmac *salt, Hmac *h, const unsigned char *ikm, const unsigned char *info, size_t info_len,
                      unsigned char out[DIGEST]) {
    unsigned char prk[DIGEST], msg[256 + 1];
    int ok = info_len <= 256 && hmac_run(salt, ikm, KEY_BYTES, prk);
    if (ok) {
        memcpy(msg, info, info_len);
        msg[info_len] = 1;
        ok = hmac_init(h, prk, DIGEST) && hmac_run(h, msg, info_len + 1, out);
    }
    OPENSSL_cleanse(prk, sizeof prk);
    return ok;
}

/* One value to seal: where its plaintext is, which row and column it belongs to, and the
 * bytes object it is sealed into (reachable only through output lists the collector does not
 * track until they are complete). */
typedef struct {
    const unsigned char *plain;
    Py_ssize_t len;
    Py_ssize_t row, column;
    unsigned char *sealed;
} Job;

/* The crypto of seal_rows, run without the GIL: touches no Python object, only the buffers
 * prepared (and kept alive) by the caller. Returns 0 on success, else a static message. */
static const char *seal_jobs(const Job *jobs, Py_ssize_t count, const unsigned char *deks, const Py_buffer *info,
                             const unsigned char *header, const unsigned char *tails, const unsigned char *nonces,
                             const unsigned char *const *prefix, const Py_ssize_t *prefix_len,
                             const uLong *prefix_crc) {
    static const unsigned char zero_salt[DIGEST] = {0};
    const char *failed = NULL;
    Hmac h, salt;
    unsigned char field_key[DIGEST], aad[MAX_AAD];
    uLong tail_crc = 0, after_tail = crc32_combine_gen(TAIL);
    Py_ssize_t keyed = -1;  /* the row whose field key the context holds */
    memset(&h, 0, sizeof h);
    memset(&salt, 0, sizeof salt);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || !EVP_EncryptInit_ex2(ctx, aes_256_gcm, NULL, NULL, NULL) || !hmac_init(&salt, zero_salt, DIGEST)) {
        failed = "OpenSSL failed: cipher context";
        goto done;
    }
    memcpy(aad, header, HEADER);
    for (Py_ssize_t k = 0; k < count; k++) {
        const Job *job = &jobs[k];
        const unsigned char *tail = tails + TAIL * job->row;
        if (job->row != keyed) {
            if (!hkdf_block(&salt, &h, deks + KEY_BYTES * job->row, info->buf, (size_t)info->len, field_key) ||
                !EVP_EncryptInit_ex2(ctx, NULL, field_key, NULL, NULL)) {
                failed = "OpenSSL failed: field key";
                goto done;
            }
            keyed = job->row;
            tail_crc = crc32(0L, tail, TAIL);
        }
        Py_ssize_t plen = prefix_len[job->column];
        size_t aad_len = HEADER + 4 + (size_t)plen + TAIL;
        memcpy(aad + HEADER + 4, prefix[job->column], (size_t)plen);
        memcpy(aad + HEADER + 4 + plen, tail, TAIL);
        uLong crc = crc32_combine_op(prefix_crc[job->column], tail_crc, after_tail);
        aad[HEADER] = (unsigned char)(crc >> 24);
        aad[HEADER + 1] = (unsigned char)(crc >> 16);
        aad[HEADER + 2] = (unsigned char)(crc >> 8);
        aad[HEADER + 3] = (unsigned char)crc;
        unsigned char *s = job->sealed, *iv = s + HEADER + 4, *body = iv + NONCE;
        int part, last;
        memcpy(s, aad, HEADER + 4);
        memcpy(iv, nonces + NONCE * k, NONCE);
        if (!EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL) ||
            !EVP_EncryptUpdate(ctx, NULL, &part, aad, (int)aad_len) ||
            !EVP_EncryptUpdate(ctx, body, &part, job->plain, (int)job->len) ||
            !EVP_EncryptFinal_ex(ctx, body + part, &last) ||
            !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, body + job->len)) {
            failed = "OpenSSL failed: AES-GCM";
            goto done;
        }
    }
done:
    if (failed) ERR_clear_error();
    OPENSSL_cleanse(field_key, sizeof field_key);
    EVP_CIPHER_CTX_free(ctx); /* also wipes the key schedule */
    hmac_free(&h);
    hmac_free(&salt);
    return failed;
}

static PyObject *seal_rows(PyObject *self, PyObject *args) {
    Py_buffer deks, info, header, tails, nonces;
    PyObject *prefixes, *rows;
    if (!PyArg_ParseTuple(args, "y*y*y*y*O!O!y*", &deks, &info, &header, &tails, &PyTuple_Type, &prefixes,
                          &PyList_Type, &rows, &nonces))
        return NULL;
    PyObject *out = NULL, *held = NULL;
    Job *jobs = NULL;
    Py_ssize_t n = PyList_GET_SIZE(rows), width = PyTuple_GET_SIZE(prefixes), count = 0;
    const unsigned char *prefix[MAX_COLUMNS];
    Py_ssize_t prefix_len[MAX_COLUMNS];
    uLong prefix_crc[MAX_COLUMNS];
    /* Read without the GIL below: immutable bytes only (a bytearray could change meanwhile). */
    if (!PyBytes_Check(deks.obj) || !PyBytes_Check(info.obj) || !PyBytes_Check(header.obj) ||
        !PyBytes_Check(tails.obj) || !PyBytes_Check(nonces.obj)) {
        PyErr_SetString(PyExc_TypeError, "keys, info, header, tails and nonces are bytes");
        goto done;
    }
    if (deks.len != KEY_BYTES * n || tails.len != TAIL * n || header.len != HEADER || info.len > 256) {
        PyErr_SetString(PyExc_ValueError,
                        "a 32-byte data key and a 33-byte AAD tail per row, a 5-byte header, info up to 256 bytes");
        goto done;
    }
    if (width > MAX_COLUMNS || n > MAX_ROWS) {
        PyErr_SetString(PyExc_ValueError, "too many columns or rows at once");
        goto done;
    }
    /* CRC-32(prefix ‖ tail) = combine(CRC-32(prefix), CRC-32(tail)): each prefix's once, each tail's once per row. */
    for (Py_ssize_t j = 0; j < width; j++) {
        PyObject *p = PyTuple_GET_ITEM(prefixes, j);
        if (!PyBytes_Check(p) || HEADER + 4 + PyBytes_GET_SIZE(p) + TAIL > MAX_AAD) {
            PyErr_SetString(PyExc_ValueError, "column prefixes are short bytes");
            goto done;
        }
        prefix[j] = (const unsigned char *)PyBytes_AS_STRING(p);
        prefix_len[j] = PyBytes_GET_SIZE(p);
        prefix_crc[j] = crc32(0L, prefix[j], (uInt)prefix_len[j]);
    }
    /* With the GIL: the rows are checked and held (a copy of the list, so another thread changing
     * it cannot free a value while it is read), every output allocated, and a job made per value. */
    /* The output lists are kept out of the garbage collector's sight until they are complete
     * and sealed: gc.get_objects() in a finalizer (or another thread while the GIL is released)
     * would otherwise find them half-filled, or free the bytes being written. */
    if (!(held = PyList_GetSlice(rows, 0, n))) goto fail;
    if (!(out = PyList_New(n))) goto fail;
    PyObject_GC_UnTrack(out);
    if (!(jobs = PyMem_Malloc(sizeof(Job) * (size_t)(n * width > 0 ? n * width : 1)))) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(held, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != width) {
            PyErr_SetString(PyExc_ValueError, "each row is a tuple with a value (or None) per prefix");
            goto fail;
        }
        PyObject *sealed_row = PyList_New(width);
        if (!sealed_row) goto fail;
        PyObject_GC_UnTrack(sealed_row);
        PyList_SET_ITEM(out, i, sealed_row);
        for (Py_ssize_t j = 0; j < width; j++) {
            PyObject *value = PyTuple_GET_ITEM(row, j);
            if (value == Py_None) {
                PyList_SET_ITEM(sealed_row, j, Py_NewRef(Py_None));
                continue;
            }
            const char *plain;
            Py_ssize_t len;
            if (PyBytes_Check(value)) {
                plain = PyBytes_AS_STRING(value);
                len = PyBytes_GET_SIZE(value);
            } else if (PyUnicode_Check(value)) { /* sealed as its UTF-8, like str.encode(); cached in the str */
                if (!(plain = PyUnicode_AsUTF8AndSize(value, &len))) goto fail;
            } else {
                PyErr_SetString(PyExc_TypeError, "values are bytes, str or None");
                goto fail;
            }
            if (len > INT_MAX - TAG) {
                PyErr_SetString(PyExc_ValueError, "a value too long to seal at once");
                goto fail;
            }
            PyObject *sealed = PyBytes_FromStringAndSize(NULL, HEADER + 4 + NONCE + len + TAG);
            if (!sealed) goto fail;
            PyList_SET_ITEM(sealed_row, j, sealed);
            jobs[count++] = (Job){(const unsigned char *)plain, len, i, j, (unsigned char *)PyBytes_AS_STRING(sealed)};
        }
    }
    if (NONCE * count != nonces.len) {
        PyErr_SetString(PyExc_ValueError, "12 nonce bytes per value");
        goto fail;
    }
    /* Without the GIL: the crypto, while the importing thread goes on. */
    const char *failed;
    Py_BEGIN_ALLOW_THREADS
    failed = seal_jobs(jobs, count, deks.buf, &info, header.buf, tails.buf, nonces.buf, prefix, prefix_len,
                       prefix_crc);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, failed);
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) PyObject_GC_Track(PyList_GET_ITEM(out, i));
    PyObject_GC_Track(out);
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyMem_Free(jobs);
    Py_XDECREF(held);
    PyBuffer_Release(&deks);
    PyBuffer_Release(&info);
    PyBuffer_Release(&header);
    PyBuffer_Release(&tails);
    PyBuffer_Release(&nonces);
    return out;
}

static PyObject *gcm_many(PyObject *self, PyObject *args) {
    Py_buffer key, prefix, nonces;
    PyObject *plaintexts, *aads, *out = NULL;
    if (!PyArg_ParseTuple(args, "y*y*O!O!y*", &key, &prefix, &PyList_Type, &plaintexts, &PyList_Type, &aads, &nonces))
        return NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    Py_ssize_t n = PyList_GET_SIZE(plaintexts);
    if (key.len != KEY_BYTES || PyList_GET_SIZE(aads) != n || nonces.len != NONCE * n || prefix.len > 64) {
        PyErr_SetString(PyExc_ValueError, "a 32-byte key, an AAD and 12 nonce bytes per plaintext, a short prefix");
        goto done;
    }
    if (!(ctx = EVP_CIPHER_CTX_new()) || !EVP_EncryptInit_ex2(ctx, aes_256_gcm, key.buf, NULL, NULL)) {
        openssl_error("cipher context");
        goto done;
    }
    if (!(out = PyList_New(n))) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyList_GET_SIZE(plaintexts) != n || PyList_GET_SIZE(aads) != n) {
            PyErr_SetString(PyExc_RuntimeError, "the lists changed while being sealed");
            goto fail;
        }
        PyObject *plain = PyList_GET_ITEM(plaintexts, i), *aad = PyList_GET_ITEM(aads, i);
        if (!PyBytes_Check(plain) || !PyBytes_Check(aad) || PyBytes_GET_SIZE(plain) > INT_MAX - TAG ||
            PyBytes_GET_SIZE(aad) > INT_MAX) {
            PyErr_SetString(PyExc_TypeError, "plaintexts and AADs are bytes");
            goto fail;
        }
        Py_ssize_t len = PyBytes_GET_SIZE(plain);
        /* Held while used: the allocation below may run a collection, and a finalizer could touch the lists. */
        Py_INCREF(plain);
        Py_INCREF(aad);
        PyObject *sealed = PyBytes_FromStringAndSize(NULL, prefix.len + NONCE + len + TAG);
        int ok = 0, part, last;
        if (sealed) {
            PyList_SET_ITEM(out, i, sealed);
            unsigned char *s = (unsigned char *)PyBytes_AS_STRING(sealed), *iv = s + prefix.len, *body = iv + NONCE;
            memcpy(s, prefix.buf, (size_t)prefix.len);
            memcpy(iv, (unsigned char *)nonces.buf + NONCE * i, NONCE);
            ok = EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL) &&
                 EVP_EncryptUpdate(ctx, NULL, &part, (unsigned char *)PyBytes_AS_STRING(aad),
                                   (int)PyBytes_GET_SIZE(aad)) &&
                 EVP_EncryptUpdate(ctx, body, &part, (unsigned char *)PyBytes_AS_STRING(plain), (int)len) &&
                 EVP_EncryptFinal_ex(ctx, body + part, &last) &&
                 EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, body + len);
            if (!ok) openssl_error("AES-GCM");
        }
        Py_DECREF(plain);
        Py_DECREF(aad);
        if (!ok) goto fail;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    EVP_CIPHER_CTX_free(ctx);
    PyBuffer_Release(&key);
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&nonces);
    return out;
}

#define FIELD_HEAD (HEADER + 4) /* format and DEK version, then CRC-32 of the AAD */

#define BYTES(o) ((const unsigned char *)PyBytes_AS_STRING(o))

/* A field key with its AES-GCM key schedule and GHASH table computed once: `FieldKey(key)`.
 * Each seal or open only sets the nonce on a prepared context. The context is used with the
 * GIL held from start to end — the outputs are allocated before it is touched, and nothing in
 * between can run Python code or let go of the GIL — so two threads never share it at once.
 * Should a later change break that, `busy` makes the second user work on a copy instead.
 * Freed (and the schedule wiped) with the key's last reference. */
typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *seal, *open;
    int sealing, opening;
} FieldKey;

/* The prepared context, or a copy of it if it is in use (see FieldKey); 0 on failure. */
static EVP_CIPHER_CTX *take(EVP_CIPHER_CTX *prepared, int *busy, EVP_CIPHER_CTX **copy) {
    *copy = NULL;
    if (!*busy) {
        *busy = 1;
        return prepared;
    }
    if ((*copy = EVP_CIPHER_CTX_new()) && !EVP_CIPHER_CTX_copy(*copy, prepared)) { /* _dup is OpenSSL 3.1+ */
        EVP_CIPHER_CTX_free(*copy);
        *copy = NULL;
    }
    return *copy;
}

static void give_back(int *busy, EVP_CIPHER_CTX *copy) {
    if (copy)
        EVP_CIPHER_CTX_free(copy);
    else
        *busy = 0;
}

static void field_key_dealloc(FieldKey *self) {
    EVP_CIPHER_CTX_free(self->seal); /* also wipes the key schedule */
    EVP_CIPHER_CTX_free(self->open);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *field_key_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *key;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "FieldKey() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!:FieldKey", &PyBytes_Type, &key)) return NULL;
    if (PyBytes_GET_SIZE(key) != KEY_BYTES) {
        PyErr_SetString(PyExc_ValueError, "a 32-byte field key");
        return NULL;
    }
    FieldKey *self = (FieldKey *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    if (!(self->seal = EVP_CIPHER_CTX_new()) || !(self->open = EVP_CIPHER_CTX_new()) ||
        !EVP_EncryptInit_ex2(self->seal, aes_256_gcm, BYTES(key), NULL, NULL) ||
        !EVP_DecryptInit_ex2(self->open, aes_256_gcm, BYTES(key), NULL, NULL)) {
        Py_DECREF(self);
        return openssl_error("AES-GCM key");
    }
    return (PyObject *)self;
}

static int exact_bytes(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, const char *usage) {
    if (nargs != want) {
        PyErr_SetString(PyExc_TypeError, usage);
        return 0;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (!PyBytes_CheckExact(args[i])) { /* immutable: a bytearray could change under us */
            PyErr_SetString(PyExc_TypeError, usage);
            return 0;
        }
    }
    return 1;
}

/* OpenSSL takes lengths as int. */
static int fits(Py_ssize_t len) {
    if (len > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a field value or its associated data of 2 GiB or more");
        return 0;
    }
    return 1;
}

static PyObject *field_key_seal(FieldKey *self, PyObject *const *args, Py_ssize_t nargs) {
    if (!exact_bytes(args, nargs, 4, "seal(header, aad, plaintext, nonce) takes four bytes")) return NULL;
    PyObject *header = args[0], *aad = args[1], *plain = args[2], *nonce = args[3];
    if (PyBytes_GET_SIZE(header) != HEADER || PyBytes_GET_SIZE(nonce) != NONCE) {
        PyErr_SetString(PyExc_ValueError, "a 5-byte header and a 12-byte nonce");
        return NULL;
    }
    if (!fits(PyBytes_GET_SIZE(plain)) || !fits(PyBytes_GET_SIZE(aad))) return NULL;
    int len = (int)PyBytes_GET_SIZE(plain), part, last;
    PyObject *sealed = PyBytes_FromStringAndSize(NULL, FIELD_HEAD + NONCE + (Py_ssize_t)len + TAG);
    if (!sealed) return NULL;
    unsigned char *s = (unsigned char *)PyBytes_AS_STRING(sealed), *iv = s + FIELD_HEAD, *body = iv + NONCE;
    uLong crc = crc32(0L, BYTES(aad), (uInt)PyBytes_GET_SIZE(aad));
    memcpy(s, BYTES(header), HEADER);
    s[HEADER] = (unsigned char)(crc >> 24), s[HEADER + 1] = (unsigned char)(crc >> 16);
    s[HEADER + 2] = (unsigned char)(crc >> 8), s[HEADER + 3] = (unsigned char)crc;
    memcpy(iv, BYTES(nonce), NONCE);
    EVP_CIPHER_CTX *copy, *ctx = take(self->seal, &self->sealing, &copy);
    int ok = ctx && EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL) &&
             EVP_EncryptUpdate(ctx, NULL, &part, s, FIELD_HEAD) &&
             EVP_EncryptUpdate(ctx, NULL, &part, BYTES(aad), (int)PyBytes_GET_SIZE(aad)) &&
             EVP_EncryptUpdate(ctx, body, &part, BYTES(plain), len) && EVP_EncryptFinal_ex(ctx, body + part, &last) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, body + len);
    if (ctx) give_back(&self->sealing, copy);
    if (!ok) {
        Py_DECREF(sealed);
        return openssl_error("AES-GCM");
    }
    return sealed;
}

static PyObject *field_key_open(FieldKey *self, PyObject *const *args, Py_ssize_t nargs) {
    if (!exact_bytes(args, nargs, 2, "open(sealed, aad) takes two bytes")) return NULL;
    PyObject *sealed = args[0], *aad = args[1];
    Py_ssize_t total = PyBytes_GET_SIZE(sealed);
    if (total < FIELD_HEAD + NONCE + TAG) {
        PyErr_SetString(PyExc_ValueError, "too short for a sealed field value");
        return NULL;
    }
    if (!fits(total - FIELD_HEAD - NONCE - TAG) || !fits(PyBytes_GET_SIZE(aad))) return NULL;
    const unsigned char *s = BYTES(sealed), *iv = s + FIELD_HEAD, *body = iv + NONCE;
    int len = (int)(total - FIELD_HEAD - NONCE - TAG), part = 0, last;
    PyObject *plain = PyBytes_FromStringAndSize(NULL, len);
    if (!plain) return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(plain);
    EVP_CIPHER_CTX *copy, *ctx = take(self->open, &self->opening, &copy);
    int ok = ctx && EVP_DecryptInit_ex2(ctx, NULL, NULL, iv, NULL) &&
             EVP_DecryptUpdate(ctx, NULL, &part, s, FIELD_HEAD) &&
             EVP_DecryptUpdate(ctx, NULL, &part, BYTES(aad), (int)PyBytes_GET_SIZE(aad)) &&
             EVP_DecryptUpdate(ctx, out, &part, body, len) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, (void *)(body + len));
    int verified = ok && EVP_DecryptFinal_ex(ctx, out + part, &last) > 0;
    if (ctx) give_back(&self->opening, copy);
    if (!verified) { /* never hand out, or leave in memory, what did not authenticate */
        if (len) OPENSSL_cleanse(out, (size_t)len);
        Py_DECREF(plain);
        if (!ok) return openssl_error("AES-GCM"); /* the library failed, not the tag */
        ERR_clear_error();
        Py_RETURN_NONE;
    }
    return plain;
}

static PyMethodDef field_key_methods[] = {
    {"seal", (PyCFunction)(void (*)(void))field_key_seal, METH_FASTCALL,
     "seal(header, aad, plaintext, nonce): header + CRC-32(aad) + nonce + AES-256-GCM(plaintext, "
     "aad = header + CRC-32 + aad)"},
    {"open", (PyCFunction)(void (*)(void))field_key_open, METH_FASTCALL,
     "open(sealed, aad): the plaintext of a value seal made, or None if it does not verify"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FieldKeyType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "crypto._bulk.FieldKey",
    .tp_basicsize = sizeof(FieldKey),
    .tp_dealloc = (destructor)field_key_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "FieldKey(key): an AES-256-GCM field key, its schedule computed once (see _bulk.c)",
    .tp_methods = field_key_methods,
    .tp_new = field_key_new,
};

static PyMethodDef methods[] = {
    {"gcm_many", gcm_many, METH_VARARGS,
     "gcm_many(key, prefix, plaintexts, aads, nonces): prefix + nonce + AES-256-GCM(key, nonce, plaintext, aad) "
     "for each plaintext, nonces taken 12 bytes at a time"},
    {"mac_hex", mac_hex, METH_VARARGS,
     "mac_hex(key, messages, prefix, take): prefix + hex(HMAC-SHA256(key, m)[:take]) for each message"},
    {"seal_rows", seal_rows, METH_VARARGS,
     "seal_rows(deks, info, header, tails, prefixes, rows, nonces): field values sealed as "
     "FieldCipher.encrypt_row seals them, row i under HKDF(deks[32i:32i+32], info)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "crypto._bulk",
                                    "Bulk HMAC and field sealing for imports (see _bulk.c).", -1, methods};

PyMODINIT_FUNC PyInit__bulk(void) {
    if (!aes_256_gcm && !(aes_256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)))
        return openssl_error("AES-256-GCM unavailable");
    if (PyType_Ready(&FieldKeyType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddObjectRef(m, "FieldKey", (PyObject *)&FieldKeyType) < 0) Py_CLEAR(m);
    return m;
}
