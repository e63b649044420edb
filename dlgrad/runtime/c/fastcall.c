/* The native call path of a compiled signature: boxed arrays in, boxed results out, one C frame.
 *
 * A Dispatcher holds one signature of one compiled program. Called with the function's
 * arguments, it checks that each is exactly the box type (dlarray) with no graph node, the
 * expected format, the expected logical flag (a pointer compare: True or False) and, in its
 * data slot, a native-endian ndarray of the expected dtype and shape, C-contiguous or, where the
 * spec says column-major, F-contiguous (the program reads it as the C array of the reversed
 * shape; a donated F input stays F). Anything else goes to `miss`, which runs the Python path (and raises the
 * error that says what is wrong). Outputs are allocated, or are the donated inputs themselves
 * where nothing else can see their memory (else copies of them); the program runs with the GIL
 * released; the result is built from a template of tuples, lists, boxed outputs and constants,
 * or by calling `build` with the output arrays.
 *
 * With `stream` (frontend/random.py's int64 array: seed, counter, busy), the function draws random
 * numbers: its last input is the key (seed, counter), which the caller does not pass. Each call
 * takes the stream's key and advances its counter holding the GIL (see take_key), then releases
 * the GIL for the program, so the native and the Python path draw from one stream.
 *
 * With `box` the ndarray type itself (raw mode, dlgrad.optimize's path from scipy), the arguments
 * are plain ndarrays checked the same way, outputs are returned unboxed, and a template may turn a
 * one-element float64 output into a Python float (TEMPLATE_FLOAT); donation always copies there.
 *
 * With `arguments` (one pattern per argument, see match_argument), the arguments may be structures
 * the signature flattens (tuples, lists, objects such as a dlnetwork and its Learnables tables):
 * each is checked against its pattern, attribute by attribute, and its leaves feed the inputs in
 * order. A result template may build such objects again (TEMPLATE_OBJECT).
 *
 * The Python side (runtime/fastcall.py) builds this file once per Python and numpy and caches it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#ifndef Py_T_OBJECT_EX   /* Python < 3.12 */
#include <structmember.h>
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_READONLY READONLY
#endif
#if NPY_ABI_VERSION < 0x02000000   /* numpy 1 headers */
#define PyDataType_ELSIZE(descr) ((descr)->elsize)
#endif

typedef int (*dl_eval_fn)(const void *const *in, void *const *out, void *work);

enum { TEMPLATE_OUTPUT = 0, TEMPLATE_CONST = 1, TEMPLATE_TUPLE = 2, TEMPLATE_LIST = 3, TEMPLATE_FLOAT = 4,
       TEMPLATE_OBJECT = 5 };
/* argument patterns: a boxed leaf, an equal constant, an exact tuple or list, an exact ndarray leaf,
 * an object of exactly a type with attributes matching patterns */
enum { PATTERN_LEAF = 0, PATTERN_CONST = 1, PATTERN_TUPLE = 2, PATTERN_LIST = 3, PATTERN_ARRAY = 4,
       PATTERN_OBJECT = 5 };
enum { SLOT_DATA, SLOT_NODE, SLOT_TRACE, SLOT_FMT, SLOT_LOGICAL, NSLOTS };
#define STACK_ARRAYS 32   /* calls with more arrays than this take their pointer tables from the heap */
#define WORK_ALIGN 64

typedef struct {
    int typenum;
    int ndim;
    npy_intp *dims;      /* into Dispatcher.dims */
    npy_intp nbytes;
    PyObject *fmt;       /* the box's format: None or a string */
    PyObject *logical;   /* the box's logical flag: Py_True or Py_False */
    Py_ssize_t alias;    /* outputs: the donated input it overwrites, or -1 */
    int fortran;         /* the array is F-contiguous (column-major) instead of C-contiguous */
} Spec;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    dl_eval_fn fn;
    Py_ssize_t nin, nout;
    Spec *specs;                 /* nin inputs, then nout outputs */
    npy_intp *dims;
    PyTypeObject *box;
    int raw;                     /* box is the ndarray type: arrays in, arrays out, no slots */
    Py_ssize_t slot[NSLOTS];     /* byte offsets of the box's slots */
    PyObject *template_;         /* NULL when `build` builds the result */
    PyObject *build, *miss, *counter, *failed, *keep;
    size_t work_bytes;
    void *work;                  /* an idle workspace block; NULL while a call holds it */
    PyArrayObject *stream;       /* NULL, or the random stream (seed, counter, busy) feeding the last input */
    PyObject *arguments;         /* NULL (each argument one boxed leaf), or a pattern per argument */
    PyObject *guard;             /* NULL, or guard() -> whether the values the function captured are unchanged */
} Dispatcher;

static PyObject *str_hits, *one, *empty_tuple;

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* --- construction ------------------------------------------------------------------------- */

static int
slot_offset(PyTypeObject *box, PyObject *descr, Py_ssize_t *offset)
{
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type) || PyDescr_TYPE(descr) != box) {
        PyErr_SetString(PyExc_TypeError, "slots: expected the box type's own slot descriptors");
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != Py_T_OBJECT_EX || (member->flags & Py_READONLY)) {
        PyErr_SetString(PyExc_TypeError, "slots: expected writable object slots");
        return -1;
    }
    *offset = member->offset;
    return 0;
}

/* One (shape, typenum, fmt, logical[, alias][, fortran]) item of `inputs` or `outputs` into
 * `spec`; fortran (True or False, default False) says the array is column-major. */
static int
parse_spec(PyObject *item, Spec *spec, npy_intp **dims, int output, Py_ssize_t nin)
{
    PyObject *shape;
    Py_ssize_t alias = -1, base = output ? 5 : 4;
    if (!PyTuple_Check(item) || (PyTuple_GET_SIZE(item) != base && PyTuple_GET_SIZE(item) != base + 1)) {
        PyErr_Format(PyExc_TypeError, "%s spec: expected a tuple (shape, typenum, fmt, logical%s[, fortran])",
                     output ? "output" : "input", output ? ", alias" : "");
        return -1;
    }
    spec->fortran = 0;
    if (PyTuple_GET_SIZE(item) == base + 1) {
        PyObject *flag = PyTuple_GET_ITEM(item, base);
        if (!PyBool_Check(flag)) {
            PyErr_SetString(PyExc_TypeError, "spec: the fortran flag must be True or False");
            return -1;
        }
        spec->fortran = flag == Py_True;
    }
    shape = PyTuple_GET_ITEM(item, 0);
    if (!PyTuple_Check(shape) || PyTuple_GET_SIZE(shape) > NPY_MAXDIMS) {
        PyErr_SetString(PyExc_TypeError, "spec: the shape must be a tuple of at most NPY_MAXDIMS ints");
        return -1;
    }
    spec->typenum = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
    if (spec->typenum == -1 && PyErr_Occurred())
        return -1;
    PyArray_Descr *descr = PyArray_DescrFromType(spec->typenum);
    if (descr == NULL)
        return -1;
    npy_intp size = 1;
    spec->ndim = (int)PyTuple_GET_SIZE(shape);
    spec->dims = *dims;
    for (int d = 0; d < spec->ndim; d++) {
        npy_intp n = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, d));
        if (n < 0) {
            Py_DECREF(descr);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "spec: negative dimension");
            return -1;
        }
        spec->dims[d] = n;
        size *= n;
    }
    spec->nbytes = size * PyDataType_ELSIZE(descr);
    Py_DECREF(descr);
    *dims += spec->ndim;
    spec->fmt = PyTuple_GET_ITEM(item, 2);
    Py_INCREF(spec->fmt);
    if (!PyBool_Check(PyTuple_GET_ITEM(item, 3))) {
        PyErr_SetString(PyExc_TypeError, "spec: the logical flag must be True or False");
        return -1;
    }
    spec->logical = PyTuple_GET_ITEM(item, 3);
    Py_INCREF(spec->logical);
    if (output) {
        alias = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 4));
        if (alias == -1 && PyErr_Occurred())
            return -1;
        if (alias < -1 || alias >= nin) {
            PyErr_SetString(PyExc_ValueError, "output spec: alias is not an input index");
            return -1;
        }
    }
    spec->alias = alias;
    return 0;
}

static PyObject *object_fields(PyObject *payload);

/* A template is (0, output index) | (1, constant) | (2, children tuple) | (3, children tuple)
 * | (4, output index) | (5, (type, ((attribute name, template), ...))). */
static int
check_template(PyObject *t, Py_ssize_t nout)
{
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2 || !PyLong_Check(PyTuple_GET_ITEM(t, 0)))
        goto bad;
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
    PyObject *payload = PyTuple_GET_ITEM(t, 1);
    if (kind == TEMPLATE_OUTPUT || kind == TEMPLATE_FLOAT) {
        Py_ssize_t o = PyLong_Check(payload) ? PyLong_AsSsize_t(payload) : -1;
        if (o < 0 || o >= nout)
            goto bad;
        return 0;
    }
    if (kind == TEMPLATE_CONST)
        return 0;
    if (kind == TEMPLATE_OBJECT) {
        PyObject *fields = object_fields(payload);
        if (fields == NULL)
            return -1;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++)
            if (check_template(PyTuple_GET_ITEM(PyTuple_GET_ITEM(fields, i), 1), nout) < 0)
                return -1;
        return 0;
    }
    if ((kind == TEMPLATE_TUPLE || kind == TEMPLATE_LIST) && PyTuple_Check(payload)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(payload); i++)
            if (check_template(PyTuple_GET_ITEM(payload, i), nout) < 0)
                return -1;
        return 0;
    }
bad:
    PyErr_Clear();
    PyErr_SetString(PyExc_ValueError, "template: expected nested (kind, payload) pairs over the outputs");
    return -1;
}

static PyObject *dispatch_call(PyObject *, PyObject *const *, size_t, PyObject *);

/* Whether a FLOAT template names only one-element float64 outputs. */
static int
check_floats(PyObject *t, PyObject *outputs)
{
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
    PyObject *payload = PyTuple_GET_ITEM(t, 1);
    if (kind == TEMPLATE_FLOAT) {
        PyObject *spec = PyTuple_GET_ITEM(outputs, PyLong_AsSsize_t(payload)), *shape;
        shape = PyTuple_Check(spec) && PyTuple_GET_SIZE(spec) > 1 ? PyTuple_GET_ITEM(spec, 0) : NULL;
        long typenum = shape != NULL ? PyLong_AsLong(PyTuple_GET_ITEM(spec, 1)) : -1;
        Py_ssize_t size = 1;
        for (Py_ssize_t d = 0; shape != NULL && PyTuple_Check(shape) && d < PyTuple_GET_SIZE(shape); d++)
            size *= PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, d));
        if (PyErr_Occurred() || typenum != NPY_DOUBLE || size != 1) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "template: a float entry needs a one-element float64 output");
            return -1;
        }
        return 0;
    }
    if (kind == TEMPLATE_TUPLE || kind == TEMPLATE_LIST)
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(payload); i++)
            if (check_floats(PyTuple_GET_ITEM(payload, i), outputs) < 0)
                return -1;
    if (kind == TEMPLATE_OBJECT) {
        PyObject *fields = PyTuple_GET_ITEM(payload, 1);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++)
            if (check_floats(PyTuple_GET_ITEM(PyTuple_GET_ITEM(fields, i), 1), outputs) < 0)
                return -1;
    }
    return 0;
}

/* Whether `stream` is an int64 array (seed, counter, busy) to advance and the last input a key. */
static int
check_stream(PyObject *stream, PyObject *inputs)
{
#ifdef Py_GIL_DISABLED
    /* take_key is atomic because it holds the GIL */
    PyErr_SetString(PyExc_ValueError, "Dispatcher: a random stream needs the GIL");
    return -1;
#endif
    Py_ssize_t nin = PyTuple_GET_SIZE(inputs);
    PyObject *last = nin > 0 ? PyTuple_GET_ITEM(inputs, nin - 1) : NULL, *shape = NULL;
    if (last != NULL && PyTuple_Check(last) && PyTuple_GET_SIZE(last) > 1)
        shape = PyTuple_GET_ITEM(last, 0);
    if (!PyArray_CheckExact(stream) || PyArray_TYPE((PyArrayObject *)stream) != NPY_INT64
        || PyArray_NDIM((PyArrayObject *)stream) != 1 || PyArray_DIM((PyArrayObject *)stream, 0) != 3
        || !PyArray_ISCARRAY((PyArrayObject *)stream) || shape == NULL || !PyTuple_Check(shape)
        || PyTuple_GET_SIZE(shape) != 1 || PyLong_AsLong(PyTuple_GET_ITEM(shape, 0)) != 2
        || PyLong_AsLong(PyTuple_GET_ITEM(last, 1)) != NPY_INT64) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "Dispatcher: stream must be a writable int64 array (seed, counter, "
                                          "busy) and the last input an int64 key of shape (2,)");
        return -1;
    }
    return 0;
}

/* --- structured arguments and results (dlnetworks, Learnables tables, lists) -------------- */

/* The fields ((attribute name, child), ...) of an object's payload (type, fields), or NULL with
 * a ValueError when it has another form. A borrowed reference. */
static PyObject *
object_fields(PyObject *payload)
{
    PyObject *type = NULL;
    if (PyTuple_Check(payload) && PyTuple_GET_SIZE(payload) == 2)
        type = PyTuple_GET_ITEM(payload, 0);
    if (type != NULL && PyType_Check(type) && ((PyTypeObject *)type)->tp_new != NULL
        && PyTuple_Check(PyTuple_GET_ITEM(payload, 1))) {
        PyObject *fields = PyTuple_GET_ITEM(payload, 1);
        Py_ssize_t i;
        for (i = 0; i < PyTuple_GET_SIZE(fields); i++) {
            PyObject *field = PyTuple_GET_ITEM(fields, i);
            if (!PyTuple_Check(field) || PyTuple_GET_SIZE(field) != 2
                || !PyUnicode_Check(PyTuple_GET_ITEM(field, 0)))
                break;
        }
        if (i == PyTuple_GET_SIZE(fields))
            return fields;
    }
    PyErr_SetString(PyExc_ValueError, "object: expected (type, ((attribute name, child), ...)) with a type "
                                      "that can be instantiated");
    return NULL;
}

/* Whether pattern p is well formed and numbers its leaves *count, *count + 1, ... in preorder. */
static int
check_pattern(PyObject *p, Py_ssize_t *count)
{
    if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2 || !PyLong_Check(PyTuple_GET_ITEM(p, 0)))
        goto bad;
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(p, 0));
    PyObject *payload = PyTuple_GET_ITEM(p, 1);
    if (kind == PATTERN_LEAF || kind == PATTERN_ARRAY) {
        if (!PyLong_Check(payload) || PyLong_AsSsize_t(payload) != *count)
            goto bad;
        (*count)++;
        return 0;
    }
    if (kind == PATTERN_CONST)
        return 0;
    if ((kind == PATTERN_TUPLE || kind == PATTERN_LIST) && PyTuple_Check(payload)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(payload); i++)
            if (check_pattern(PyTuple_GET_ITEM(payload, i), count) < 0)
                return -1;
        return 0;
    }
    if (kind == PATTERN_OBJECT) {
        PyObject *fields = object_fields(payload);
        if (fields == NULL)
            return -1;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++)
            if (check_pattern(PyTuple_GET_ITEM(PyTuple_GET_ITEM(fields, i), 1), count) < 0)
                return -1;
        return 0;
    }
bad:
    PyErr_Clear();
    PyErr_SetString(PyExc_ValueError, "arguments: expected nested (kind, payload) patterns numbering the "
                                      "inputs in order");
    return -1;
}

/* Whether `arguments` is a tuple of patterns whose leaves number the nleaves inputs the caller passes. */
static int
check_arguments(PyObject *arguments, Py_ssize_t nleaves, int raw)
{
    Py_ssize_t count = 0;
    if (raw || !PyTuple_Check(arguments)) {
        PyErr_SetString(PyExc_ValueError, "arguments: expected a tuple of patterns (not in raw mode)");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(arguments); i++)
        if (check_pattern(PyTuple_GET_ITEM(arguments, i), &count) < 0)
            return -1;
    if (count != nleaves) {
        PyErr_Format(PyExc_ValueError, "arguments: the patterns hold %zd leaves for %zd inputs", count, nleaves);
        return -1;
    }
    return 0;
}

static PyObject *
Dispatcher_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"address", "inputs", "outputs", "box", "slots", "template", "build",
                            "miss", "counter", "failed", "work_bytes", "keep", "stream", "arguments", "guard",
                            NULL};
    unsigned long long address;
    PyObject *inputs, *outputs, *box, *slots, *template_, *build, *miss, *counter, *failed, *keep;
    PyObject *stream = Py_None, *arguments = Py_None, *guard = Py_None;
    Py_ssize_t work_bytes;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KO!O!O!O!OOOOOnO|OOO:Dispatcher", names, &address,
                                     &PyTuple_Type, &inputs, &PyTuple_Type, &outputs, &PyType_Type, &box,
                                     &PyTuple_Type, &slots, &template_, &build, &miss, &counter, &failed,
                                     &work_bytes, &keep, &stream, &arguments, &guard))
        return NULL;
    int raw = (PyTypeObject *)box == &PyArray_Type;
    if (address == 0 || work_bytes < 0 || (!raw && PyTuple_GET_SIZE(slots) != NSLOTS) || !PyCallable_Check(miss)
        || !PyCallable_Check(failed) || (template_ == Py_None && !PyCallable_Check(build))) {
        PyErr_SetString(PyExc_ValueError, "Dispatcher: needs an address, 5 slots, callable miss and failed, "
                                          "and a template or a callable build");
        return NULL;
    }
    Py_ssize_t nin = PyTuple_GET_SIZE(inputs), nout = PyTuple_GET_SIZE(outputs), ndims = 0;
    for (Py_ssize_t i = 0; i < nin + nout; i++) {
        PyObject *item = i < nin ? PyTuple_GET_ITEM(inputs, i) : PyTuple_GET_ITEM(outputs, i - nin);
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) > 0 && PyTuple_Check(PyTuple_GET_ITEM(item, 0)))
            ndims += PyTuple_GET_SIZE(PyTuple_GET_ITEM(item, 0));
    }
    if (template_ != Py_None && (check_template(template_, nout) < 0 || check_floats(template_, outputs) < 0))
        return NULL;
    if (stream != Py_None && check_stream(stream, inputs) < 0)
        return NULL;
    if (arguments != Py_None && check_arguments(arguments, nin - (stream != Py_None), raw) < 0)
        return NULL;
    if (guard != Py_None && !PyCallable_Check(guard)) {
        PyErr_SetString(PyExc_TypeError, "Dispatcher: guard must be callable or None");
        return NULL;
    }

    Dispatcher *self = (Dispatcher *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = dispatch_call;
    self->fn = (dl_eval_fn)(uintptr_t)address;
    self->nin = nin;
    self->nout = nout;
    self->specs = PyMem_Calloc((size_t)(nin + nout) + 1, sizeof(Spec));
    self->dims = PyMem_Calloc((size_t)ndims + 1, sizeof(npy_intp));
    if (self->specs == NULL || self->dims == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    npy_intp *dims = self->dims;
    for (Py_ssize_t i = 0; i < nin + nout; i++) {
        PyObject *item = i < nin ? PyTuple_GET_ITEM(inputs, i) : PyTuple_GET_ITEM(outputs, i - nin);
        if (parse_spec(item, &self->specs[i], &dims, i >= nin, nin) < 0) {
            Py_DECREF(self);
            return NULL;
        }
    }
    self->box = (PyTypeObject *)box;
    Py_INCREF(box);
    self->raw = raw;
    for (int s = 0; s < (raw ? 0 : NSLOTS); s++)
        if (slot_offset(self->box, PyTuple_GET_ITEM(slots, s), &self->slot[s]) < 0) {
            Py_DECREF(self);
            return NULL;
        }
    self->template_ = template_ == Py_None ? NULL : template_;
    Py_XINCREF(self->template_);
    self->build = build;
    self->miss = miss;
    self->counter = counter == Py_None ? NULL : counter;
    self->failed = failed;
    self->keep = keep;
    Py_INCREF(build);
    Py_INCREF(miss);
    Py_XINCREF(self->counter);
    Py_INCREF(failed);
    Py_INCREF(keep);
    self->work_bytes = (size_t)work_bytes;
    if (stream != Py_None) {
        self->stream = (PyArrayObject *)stream;
        Py_INCREF(stream);
    }
    if (arguments != Py_None) {
        self->arguments = arguments;
        Py_INCREF(arguments);
    }
    if (guard != Py_None) {
        self->guard = guard;
        Py_INCREF(guard);
    }
    return (PyObject *)self;
}

static int
Dispatcher_traverse(Dispatcher *self, visitproc visit, void *arg)
{
    Py_VISIT(self->box);
    Py_VISIT(self->template_);
    Py_VISIT(self->build);
    Py_VISIT(self->miss);
    Py_VISIT(self->counter);
    Py_VISIT(self->failed);
    Py_VISIT(self->keep);
    Py_VISIT(self->stream);
    Py_VISIT(self->arguments);
    Py_VISIT(self->guard);
    if (self->specs != NULL)
        for (Py_ssize_t i = 0; i < self->nin + self->nout; i++) {
            Py_VISIT(self->specs[i].fmt);
            Py_VISIT(self->specs[i].logical);
        }
    return 0;
}

static int
Dispatcher_clear(Dispatcher *self)
{
    Py_CLEAR(self->box);
    Py_CLEAR(self->template_);
    Py_CLEAR(self->build);
    Py_CLEAR(self->miss);
    Py_CLEAR(self->counter);
    Py_CLEAR(self->failed);
    Py_CLEAR(self->keep);
    Py_CLEAR(self->stream);
    Py_CLEAR(self->arguments);
    Py_CLEAR(self->guard);
    if (self->specs != NULL)
        for (Py_ssize_t i = 0; i < self->nin + self->nout; i++) {
            Py_CLEAR(self->specs[i].fmt);
            Py_CLEAR(self->specs[i].logical);
        }
    return 0;
}

static void
Dispatcher_dealloc(Dispatcher *self)
{
    PyObject_GC_UnTrack(self);
    Dispatcher_clear(self);
    PyMem_Free(self->specs);
    PyMem_Free(self->dims);
    free(self->work);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* --- the call ------------------------------------------------------------------------------ */

/* The box of output o (made once per call, so an output named twice is one object). */
static PyObject *
boxed(Dispatcher *self, Py_ssize_t o, PyObject **outs, PyObject **boxes)
{
    if (self->raw) {
        Py_INCREF(outs[o]);
        return outs[o];
    }
    if (boxes[o] == NULL) {
        PyObject *b = self->box->tp_alloc(self->box, 0);
        if (b == NULL)
            return NULL;
        Py_INCREF(outs[o]);
        SLOT(b, self->slot[SLOT_DATA]) = outs[o];
        Py_INCREF(Py_None);
        SLOT(b, self->slot[SLOT_NODE]) = Py_None;
        Py_INCREF(Py_None);
        SLOT(b, self->slot[SLOT_TRACE]) = Py_None;
        Py_INCREF(self->specs[self->nin + o].fmt);
        SLOT(b, self->slot[SLOT_FMT]) = self->specs[self->nin + o].fmt;
        Py_INCREF(self->specs[self->nin + o].logical);
        SLOT(b, self->slot[SLOT_LOGICAL]) = self->specs[self->nin + o].logical;
        boxes[o] = b;
    }
    Py_INCREF(boxes[o]);
    return boxes[o];
}

static PyObject *instantiate(Dispatcher *self, PyObject *t, PyObject **outs, PyObject **boxes);

/* An object made as type.__new__(type) would make it, its attributes set from their templates in
 * order (how a dlnetwork or a Learnables table is rebuilt around new arrays). */
static PyObject *
instantiate_object(Dispatcher *self, PyObject *payload, PyObject **outs, PyObject **boxes)
{
    PyTypeObject *type = (PyTypeObject *)PyTuple_GET_ITEM(payload, 0);
    PyObject *fields = PyTuple_GET_ITEM(payload, 1);
    PyObject *obj = type->tp_new(type, empty_tuple, NULL);
    for (Py_ssize_t i = 0; obj != NULL && i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        PyObject *value = instantiate(self, PyTuple_GET_ITEM(field, 1), outs, boxes);
        if (value == NULL || PyObject_SetAttr(obj, PyTuple_GET_ITEM(field, 0), value) < 0)
            Py_CLEAR(obj);
        Py_XDECREF(value);
    }
    return obj;
}

static PyObject *
instantiate(Dispatcher *self, PyObject *t, PyObject **outs, PyObject **boxes)
{
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
    PyObject *payload = PyTuple_GET_ITEM(t, 1);
    if (kind == TEMPLATE_OUTPUT)
        return boxed(self, PyLong_AsSsize_t(payload), outs, boxes);
    if (kind == TEMPLATE_FLOAT)   /* checked at construction: one float64 element */
        return PyFloat_FromDouble(*(const double *)PyArray_DATA((PyArrayObject *)outs[PyLong_AsSsize_t(payload)]));
    if (kind == TEMPLATE_CONST) {
        Py_INCREF(payload);
        return payload;
    }
    if (kind == TEMPLATE_OBJECT)
        return instantiate_object(self, payload, outs, boxes);
    Py_ssize_t n = PyTuple_GET_SIZE(payload);
    PyObject *result = kind == TEMPLATE_TUPLE ? PyTuple_New(n) : PyList_New(n);
    if (result == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *child = instantiate(self, PyTuple_GET_ITEM(payload, i), outs, boxes);
        if (child == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        if (kind == TEMPLATE_TUPLE)
            PyTuple_SET_ITEM(result, i, child);
        else
            PyList_SET_ITEM(result, i, child);
    }
    return result;
}

/* Whether argument x fits input spec s; *data receives its array. -1 on error. */
static int
fits(Dispatcher *self, PyObject *x, const Spec *s, PyArrayObject **data)
{
    PyObject *obj = x;
    if (!self->raw) {
        if (Py_TYPE(x) != self->box || SLOT(x, self->slot[SLOT_NODE]) != Py_None
            || SLOT(x, self->slot[SLOT_LOGICAL]) != s->logical)
            return 0;
        PyObject *fmt = SLOT(x, self->slot[SLOT_FMT]);
        if (fmt != s->fmt) {
            if (fmt == NULL || fmt == Py_None || s->fmt == Py_None)
                return 0;
            int equal = PyObject_RichCompareBool(fmt, s->fmt, Py_EQ);
            if (equal <= 0)
                return equal;
        }
        obj = SLOT(x, self->slot[SLOT_DATA]);
    } else if (!PyArray_CheckExact(x)) {
        return 0;
    }
    if (obj == NULL || !PyArray_Check(obj))
        return 0;
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != s->typenum || PyArray_NDIM(a) != s->ndim || !PyArray_ISNOTSWAPPED(a)
        || !(s->fortran ? PyArray_IS_F_CONTIGUOUS(a) : PyArray_IS_C_CONTIGUOUS(a)))
        return 0;
    const npy_intp *dims = PyArray_DIMS(a);
    for (int d = 0; d < s->ndim; d++)
        if (dims[d] != s->dims[d])
            return 0;
    *data = a;
    return 1;
}

/* Whether donated input i may not be overwritten: read-only, overlapping another input, or
 * memory that something besides the donated dlarray can see. Its array must own its memory
 * (no base: a view keeps its base alive, so a base with views has more references) and be
 * referenced exactly twice: by the dlarray's data slot and by held[i] (this call). Another
 * dlarray sharing the array, a numpy view of it or a variable of the caller holding it adds
 * one; an input passed twice is held twice. (ndarrays are never immortal, Python 3.12+.) */
#define DONATED_REFS 2
static int
unsafe_to_donate(Dispatcher *self, PyArrayObject **ins, Py_ssize_t i)
{
    if (self->raw || Py_REFCNT(ins[i]) != DONATED_REFS || PyArray_BASE(ins[i]) != NULL
        || !PyArray_CHKFLAGS(ins[i], NPY_ARRAY_OWNDATA | NPY_ARRAY_WRITEABLE))
        return 1;
    const char *lo = PyArray_BYTES(ins[i]), *hi = lo + self->specs[i].nbytes;
    for (Py_ssize_t j = 0; j < self->nin; j++) {
        const char *lo2 = PyArray_BYTES(ins[j]), *hi2 = lo2 + self->specs[j].nbytes;
        if (j != i && lo < hi2 && lo2 < hi)
            return 1;
    }
    return 0;
}

static int
count_hit(PyObject *counter)
{
    PyObject *hits = PyObject_GetAttr(counter, str_hits);
    if (hits == NULL)
        return -1;
    PyObject *more = PyNumber_Add(hits, one);
    Py_DECREF(hits);
    if (more == NULL)
        return -1;
    int status = PyObject_SetAttr(counter, str_hits, more);
    Py_DECREF(more);
    return status;
}

/* A new int64 array (seed, counter): the stream's key; its counter advances by one (mod 2^63, as
 * rng's). Read and advanced with no Python code in between, so atomic under the GIL: two
 * threads never get one key. Python's own reads and writes of the stream (frontend/random.py,
 * under its lock) set busy while they run; a call finding it set sets *busy and takes the Python
 * path, which waits for that lock. */
static PyObject *
take_key(PyArrayObject *stream, int *busy)
{
    int64_t *s = (int64_t *)PyArray_DATA(stream);
    if (s[2] != 0) {
        *busy = 1;
        return NULL;
    }
    const int64_t seed = s[0], counter = s[1];
    s[1] = counter == INT64_MAX ? 0 : counter + 1;
    npy_intp two = 2;   /* allocated after the advance: the collector it may run can let other threads in */
    PyObject *key = PyArray_SimpleNew(1, &two, NPY_INT64);
    if (key != NULL) {
        ((int64_t *)PyArray_DATA((PyArrayObject *)key))[0] = seed;
        ((int64_t *)PyArray_DATA((PyArrayObject *)key))[1] = counter;
    }
    return key;
}

/* Whether x is a plain ndarray fitting input spec s (an ndarray leaf of a pattern). */
static int
array_fits(PyObject *x, const Spec *s, PyArrayObject **data)
{
    if (!PyArray_CheckExact(x))
        return 0;
    PyArrayObject *a = (PyArrayObject *)x;
    if (PyArray_TYPE(a) != s->typenum || PyArray_NDIM(a) != s->ndim || !PyArray_ISNOTSWAPPED(a)
        || !PyArray_IS_C_CONTIGUOUS(a))
        return 0;
    for (int d = 0; d < s->ndim; d++)
        if (PyArray_DIMS(a)[d] != s->dims[d])
            return 0;
    *data = a;
    return 1;
}

/* Whether argument x matches pattern p (as tree.signature would give it the signature's key); its
 * leaves' arrays go to ins[*k], ins[*k + 1], ... and held (new references), *k counting them.
 * An exception raised by an attribute or a comparison means no match: the Python path, which
 * `miss` runs, meets it again and says what is wrong. */
static int
match_argument(Dispatcher *self, PyObject *p, PyObject *x, PyArrayObject **ins, PyObject **held, Py_ssize_t *k)
{
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(p, 0));
    PyObject *payload = PyTuple_GET_ITEM(p, 1);
    int ok = 0;
    switch (kind) {
    case PATTERN_LEAF:
    case PATTERN_ARRAY:
        ok = kind == PATTERN_LEAF ? fits(self, x, &self->specs[*k], &ins[*k])
                                  : array_fits(x, &self->specs[*k], &ins[*k]);
        if (ok > 0) {
            held[*k] = (PyObject *)ins[*k];
            Py_INCREF(held[*k]);
            (*k)++;
        }
        break;
    case PATTERN_CONST:
        ok = x == payload ? 1 : PyObject_RichCompareBool(x, payload, Py_EQ);
        break;
    case PATTERN_TUPLE:
    case PATTERN_LIST: {
        Py_ssize_t n = PyTuple_GET_SIZE(payload);
        if (kind == PATTERN_TUPLE ? !PyTuple_CheckExact(x) : !PyList_CheckExact(x))
            return 0;
        if (Py_SIZE(x) != n)
            return 0;
        ok = 1;
        for (Py_ssize_t i = 0; ok > 0 && i < n; i++) {
            if (Py_SIZE(x) != n)   /* a comparison's Python code changed the list */
                return 0;
            PyObject *item = kind == PATTERN_TUPLE ? PyTuple_GET_ITEM(x, i) : PyList_GET_ITEM(x, i);
            Py_INCREF(item);
            ok = match_argument(self, PyTuple_GET_ITEM(payload, i), item, ins, held, k);
            Py_DECREF(item);
        }
        break;
    }
    case PATTERN_OBJECT: {
        PyObject *fields = PyTuple_GET_ITEM(payload, 1);
        if ((PyObject *)Py_TYPE(x) != PyTuple_GET_ITEM(payload, 0))
            return 0;
        ok = 1;
        for (Py_ssize_t i = 0; ok > 0 && i < PyTuple_GET_SIZE(fields); i++) {
            PyObject *field = PyTuple_GET_ITEM(fields, i);
            PyObject *value = PyObject_GetAttr(x, PyTuple_GET_ITEM(field, 0));
            if (value == NULL) {
                ok = -1;
                break;
            }
            ok = match_argument(self, PyTuple_GET_ITEM(field, 1), value, ins, held, k);
            Py_DECREF(value);
        }
        break;
    }
    }
    if (ok < 0) {
        PyErr_Clear();
        ok = 0;
    }
    return ok;
}

/* Whether guard() says the values the function captured are unchanged; -1 on error. */
static int
guard_holds(PyObject *guard)
{
    PyObject *valid = PyObject_CallNoArgs(guard);
    if (valid == NULL)
        return -1;
    int truth = PyObject_IsTrue(valid);
    Py_DECREF(valid);
    return truth;
}

/* Whether the arguments match self->arguments; on 1, ins and held hold the inputs' arrays. */
static int
take_arguments(Dispatcher *self, PyObject *const *args, PyArrayObject **ins, PyObject **held)
{
    Py_ssize_t k = 0;
    int ok = 1;
    for (Py_ssize_t i = 0; ok > 0 && i < PyTuple_GET_SIZE(self->arguments); i++)
        ok = match_argument(self, PyTuple_GET_ITEM(self->arguments, i), args[i], ins, held, &k);
    if (ok <= 0)
        for (Py_ssize_t i = 0; i < k; i++)
            Py_CLEAR(held[i]);
    return ok;
}

static PyObject *
dispatch_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Dispatcher *self = (Dispatcher *)callable;
    const Py_ssize_t nin = self->nin, nout = self->nout, narrays = nin + nout;
    PyArrayObject *stack_ins[STACK_ARRAYS];
    PyObject *stack_objs[4 * STACK_ARRAYS];
    void *stack_ptrs[STACK_ARRAYS];
    PyArrayObject **ins = stack_ins;
    PyObject **outs = stack_objs, **boxes = stack_objs + STACK_ARRAYS, **copies = stack_objs + 2 * STACK_ARRAYS;
    PyObject **held = stack_objs + 3 * STACK_ARRAYS;   /* the inputs, kept alive while the GIL is released */
    void **ptrs = stack_ptrs, *heap = NULL, *raw = NULL;
    PyObject *result = NULL;
    Py_ssize_t i;
    const Py_ssize_t nleaves = nin - (self->stream != NULL);   /* the caller does not pass the key */
    const Py_ssize_t nargs = self->arguments != NULL ? PyTuple_GET_SIZE(self->arguments) : nleaves;

    if (kwnames != NULL || PyVectorcall_NARGS(nargsf) != nargs)
        return PyObject_Vectorcall(self->miss, args, nargsf, kwnames);
    if (narrays > STACK_ARRAYS) {
        heap = PyMem_Calloc((size_t)narrays, sizeof(PyArrayObject *) + 4 * sizeof(PyObject *) + sizeof(void *));
        if (heap == NULL)
            return PyErr_NoMemory();
        ins = heap;
        outs = (PyObject **)(ins + narrays);
        boxes = outs + narrays;
        copies = boxes + narrays;
        held = copies + narrays;
        ptrs = (void **)(held + narrays);
    } else {
        memset(stack_objs, 0, sizeof stack_objs);
    }
    if (self->arguments != NULL) {   /* holds the arrays as it takes them */
        int ok = take_arguments(self, args, ins, held);
        if (ok <= 0) {
            PyMem_Free(heap);
            return ok < 0 ? NULL : PyObject_Vectorcall(self->miss, args, nargsf, kwnames);
        }
    }
    for (i = 0; self->arguments == NULL && i < nargs; i++) {
        int ok = fits(self, args[i], &self->specs[i], &ins[i]);
        if (ok <= 0) {
            PyMem_Free(heap);
            return ok < 0 ? NULL : PyObject_Vectorcall(self->miss, args, nargsf, kwnames);
        }
    }
    for (i = 0; self->arguments == NULL && i < nargs; i++) {   /* another thread may rebind a dlarray's data */
        held[i] = (PyObject *)ins[i];
        Py_INCREF(held[i]);
    }
    if (self->guard != NULL || self->stream != NULL) {
        /* the guard's Python code may run other threads; the key is drawn last: a miss draws its own */
        int busy = 0, valid = self->guard != NULL ? guard_holds(self->guard) : 1;
        if (valid > 0 && self->stream != NULL) {
            if ((held[nin - 1] = take_key(self->stream, &busy)) == NULL)
                valid = busy ? 0 : -1;
            else
                ins[nin - 1] = (PyArrayObject *)held[nin - 1];
        }
        if (valid <= 0) {
            for (i = 0; i < nleaves; i++)
                Py_CLEAR(held[i]);
            PyMem_Free(heap);
            return valid < 0 ? NULL : PyObject_Vectorcall(self->miss, args, nargsf, kwnames);
        }
    }
    /* donated inputs that may not be overwritten are copied first; their outputs are the copies */
    for (i = 0; i < nout; i++) {
        Py_ssize_t a = self->specs[nin + i].alias;
        if (a >= 0 && copies[a] == NULL && unsafe_to_donate(self, ins, a)) {
            copies[a] = PyArray_NewCopy(ins[a], self->specs[a].fortran ? NPY_FORTRANORDER : NPY_CORDER);
            if (copies[a] == NULL)
                goto done;
            ins[a] = (PyArrayObject *)copies[a];
        }
    }
    for (i = 0; i < nout; i++) {
        const Spec *s = &self->specs[nin + i];
        if (s->alias >= 0) {
            outs[i] = (PyObject *)ins[s->alias];
            Py_INCREF(outs[i]);
        } else if ((outs[i] = PyArray_New(&PyArray_Type, s->ndim, s->dims, s->typenum, NULL, NULL, 0,
                                          s->fortran ? NPY_ARRAY_F_CONTIGUOUS : 0, NULL)) == NULL) {
            goto done;
        }
        ptrs[nin + i] = PyArray_DATA((PyArrayObject *)outs[i]);
    }
    for (i = 0; i < nin; i++)
        ptrs[i] = PyArray_DATA(ins[i]);
    if (self->counter != NULL && count_hit(self->counter) < 0)
        goto done;

    void *work = NULL;
    if (self->work_bytes) {
        /* one idle block is kept; a call that finds it taken (another thread) gets its own */
        raw = self->work;
        self->work = NULL;
        if (raw == NULL && (raw = malloc(self->work_bytes + WORK_ALIGN)) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        work = (char *)raw + (WORK_ALIGN - (uintptr_t)raw % WORK_ALIGN) % WORK_ALIGN;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = self->fn((const void *const *)ptrs, (void *const *)(ptrs + nin), work);
    Py_END_ALLOW_THREADS
    if (raw != NULL) {
        if (self->work == NULL)
            self->work = raw;
        else
            free(raw);
        raw = NULL;
    }
    if (status != 0) {
        /* failed(status, inputs) raises the error the status stands for (an index out of range) */
        PyObject *arrays = PyTuple_New(nin), *raised = NULL;
        if (arrays != NULL) {
            for (i = 0; i < nin; i++) {
                Py_INCREF(ins[i]);
                PyTuple_SET_ITEM(arrays, i, (PyObject *)ins[i]);
            }
            raised = PyObject_CallFunction(self->failed, "iO", status, arrays);
            Py_DECREF(arrays);
        }
        Py_XDECREF(raised);
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_RuntimeError, "compiled function failed with status %d", status);
        goto done;
    }
    if (self->template_ != NULL)
        result = instantiate(self, self->template_, outs, boxes);
    else
        result = PyObject_Vectorcall(self->build, outs, (size_t)nout, NULL);

done:
    for (i = 0; i < narrays; i++) {
        if (i < nout) {
            Py_XDECREF(outs[i]);
            Py_XDECREF(boxes[i]);
        }
        if (i < nin) {
            Py_XDECREF(copies[i]);
            Py_XDECREF(held[i]);
        }
    }
    PyMem_Free(heap);
    return result;
}

static PyObject *
Dispatcher_repr(Dispatcher *self)
{
    return PyUnicode_FromFormat("<Dispatcher: %zd arrays in, %zd out, %zu workspace bytes>",
                                self->nin, self->nout, self->work_bytes);
}

static PyTypeObject DispatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dlgrad_fastcall.Dispatcher",
    .tp_doc = "One compiled signature called natively: Dispatcher(address, inputs, outputs, box, slots, "
              "template, build, miss, counter, failed, work_bytes, keep, stream=None)(*args).",
    .tp_basicsize = sizeof(Dispatcher),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = Dispatcher_new,
    .tp_dealloc = (destructor)Dispatcher_dealloc,
    .tp_traverse = (traverseproc)Dispatcher_traverse,
    .tp_clear = (inquiry)Dispatcher_clear,
    .tp_repr = (reprfunc)Dispatcher_repr,
    .tp_vectorcall_offset = offsetof(Dispatcher, vectorcall),
    .tp_call = PyVectorcall_Call,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "dlgrad_fastcall", .m_doc = "dlgrad's native call path.", .m_size = -1,
};

#ifndef DLGRAD_FASTCALL_INIT
#error "build with -DDLGRAD_FASTCALL_INIT=PyInit_<module name>"
#endif

PyMODINIT_FUNC
DLGRAD_FASTCALL_INIT(void)
{
    import_array();
    if (PyType_Ready(&DispatcherType) < 0)
        return NULL;
    str_hits = PyUnicode_InternFromString("hits");
    one = PyLong_FromLong(1);
    empty_tuple = PyTuple_New(0);
    if (str_hits == NULL || one == NULL || empty_tuple == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&DispatcherType);
    if (PyModule_AddObject(m, "Dispatcher", (PyObject *)&DispatcherType) < 0) {
        Py_DECREF(&DispatcherType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
