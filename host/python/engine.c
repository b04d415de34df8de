// SPDX-License-Identifier: MIT
/*
 * The Python script engine: modhost-python.so, dlopened by the host
 * (host/script.c) when the first NAME.py module is mapped.
 *
 * One CPython interpreter, started then and kept until QEMU exits.  Each
 * loaded copy of a script is an instance (struct inst) with its own module
 * namespace, so two versions of a script live side by side during a
 * reload.  The engine gives the host's lifecycle ordinary module hooks:
 *
 *  - prepare (a host thread, the guest running): run the script's body.
 *    Decorators (modhost.hypercall, ppp, export, on_*_exec) only record
 *    what the script asks for, and modhost.export() makes the libffi
 *    closures other modules will call, so that the module's export table
 *    exists before the host binds importers to it;
 *  - init (every vCPU stopped): register the recorded routes, PPP handlers
 *    and translate hook with the host, bind modhost.import_fn() callables,
 *    then call the script's init() if it has one;
 *  - exit, save_state, restore_state: the script's exit(), save_state()
 *    and restore_state(value, old_version), the state pickled in between.
 *
 * Any failure there refuses the load (or rolls the reload back) with a
 * one-line reason, and the traceback in a script_error event.  Exceptions
 * in callbacks are counted and logged at the 1st, 2nd, 4th, 8th ...
 * occurrence.  A hook's Python runs on a thread of its own, bounded (see
 * run_job()), so that no script, looping or blocked, makes the host's
 * guard jump out of the interpreter.
 *
 * Threads: every entry from the host or QEMU (hooks, callbacks, closures)
 * takes the GIL with PyGILState_Ensure(), so vCPUs run Python one at a
 * time.  `cur` is the instance the running Python code belongs to (the
 * decorators, print() and modhost.log() need it), per thread.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <errno.h>
#include <ffi.h>
#include <pthread.h>
#include <string.h>

#include "../internal.h"

#define ENTRY __attribute__((visibility("default")))
#define READ_MAX (1u << 20)	/* the most one guest memory read returns */
#define REFIRE_US 100000	/* a stuck hook's TimeoutError, again */

static const struct mh_script_host *host;
static const struct mh_api *api;
static int64_t bound_us;	/* a hook's bound; 0: none */
static PyObject *guest_fault;	/* modhost.GuestFault */
static PyObject *pickle_dumps, *pickle_loads;

/* A Python callable registered for something, and what it is for. */
struct pycall {
	struct inst *in;
	PyObject *fn;
	char *what;		/* "hypercall 0x12345678", "export f" ... */
	uint32_t magic;		/* hypercall */
	char *module, *name;	/* ppp: the point; export: name */
	char *sig;		/* ppp, export: the signature */
	struct mh_sig_ffi fs;
	ffi_closure *closure;	/* ppp, export: what C calls */
	void *code;
};

/* One instrumented block or instruction: its callbacks' udata. */
struct at {
	struct inst *in;
	uint64_t pc;
};

/*
 * One loaded copy of a script.  What a hook's Python reads lives here, not
 * in @mod: a hook abandoned in a blocking call (run_job()) may go on after
 * the host freed @mod, and the instance is then never freed.
 */
struct inst {
	struct mh_module *mod;	/* the hook thread's side only */
	char *name, *file;
	GHashTable *params;	/* a reference to mod->params */
	bool abandoned;		/* a hook's thread was left running */
	char *source;		/* NUL-terminated */
	PyObject *ns;		/* the module object */
	GPtrArray *hcalls, *ppps, *exports;	/* struct pycall */
	GPtrArray *old_closures;	/* ppp closures replaced at a re-init */
	GPtrArray *imports;	/* struct import_fn objects */
	PyObject *on_block, *on_insn, *on_mem;
	struct mh_export *ex_table;
	GMutex at_lock;		/* ats: translation runs on every vCPU */
	GPtrArray *ats;
	GString *out;		/* print(): the line not yet ended */
	uint64_t errors;	/* exceptions in callbacks; under the GIL */
};

static __thread struct inst *cur;
/* When the hook running on this thread must end by (monotonic us; 0: none). */
static __thread int64_t deadline;

/* Enter Python for @in: the GIL, and @in as the running instance. */
struct py_enter {
	PyGILState_STATE g;
	struct inst *prev;
};

static __thread bool thread_state_kept;

static void enter(struct py_enter *e, struct inst *in)
{
	/*
	 * A thread's first entry makes its Python thread state and keeps
	 * it: without that, each PyGILState_Release() that drops the last
	 * reference destroys the state and the next entry makes a new one
	 * (tens of microseconds a callback on a vCPU thread).
	 */
	if (!thread_state_kept) {
		PyGILState_Ensure();
		PyEval_SaveThread();
		thread_state_kept = true;
	}
	e->g = PyGILState_Ensure();
	e->prev = cur;
	cur = in;
}

static void leave(struct py_enter *e)
{
	cur = e->prev;
	PyGILState_Release(e->g);
}

static const char *inst_name(const struct inst *in)
{
	return in->name;
}

/* -- errors ------------------------------------------------------------------ */

/* Raise @type with a printf() message (Python's own format has no widths). */
static void G_GNUC_PRINTF(2, 3) py_raise(PyObject *type, const char *fmt, ...)
{
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	PyErr_SetString(type, text);
}

/* The line of @tb's innermost frame in @file, or 0. */
static long tb_line_in(PyObject *tb, const char *file)
{
	long line = 0;

	Py_XINCREF(tb);
	while (tb && tb != Py_None) {
		PyObject *frame = PyObject_GetAttrString(tb, "tb_frame");
		PyObject *code = frame ? PyObject_GetAttrString(frame, "f_code") : NULL;
		PyObject *fn = code ? PyObject_GetAttrString(code, "co_filename") : NULL;
		PyObject *ln = PyObject_GetAttrString(tb, "tb_lineno");
		PyObject *next = PyObject_GetAttrString(tb, "tb_next");

		if (fn && PyUnicode_Check(fn) && ln &&
		    !strcmp(PyUnicode_AsUTF8(fn), file))
			line = PyLong_AsLong(ln);
		Py_XDECREF(frame);
		Py_XDECREF(code);
		Py_XDECREF(fn);
		Py_XDECREF(ln);
		Py_DECREF(tb);
		tb = next;
	}
	Py_XDECREF(tb);
	PyErr_Clear();
	return line;
}

/*
 * The pending exception, cleared: one line "Type: message (NAME.py line
 * N)" returned, and the whole traceback in *@trace.
 */
static char *exc_take(struct inst *in, char **trace)
{
	PyObject *t, *v, *tb, *mod, *lines = NULL, *only = NULL, *sep;
	g_autofree char *last = NULL;
	g_autofree char *base = g_path_get_basename(in->file);
	long line = 0;

	PyErr_Fetch(&t, &v, &tb);
	PyErr_NormalizeException(&t, &v, &tb);
	if (!t) {
		*trace = g_strdup("(no exception)");
		return g_strdup("failed without an exception");
	}
	if (tb && v)
		PyException_SetTraceback(v, tb);
	mod = PyImport_ImportModule("traceback");
	if (mod) {
		lines = PyObject_CallMethod(mod, "format_exception", "OOO", t,
					    v ? v : Py_None, tb ? tb : Py_None);
		only = PyObject_CallMethod(mod, "format_exception_only", "OO",
					   t, v ? v : Py_None);
		Py_DECREF(mod);
	}
	sep = PyUnicode_FromString("");
	if (lines && sep) {
		PyObject *s = PyUnicode_Join(sep, lines);

		*trace = s ? g_strdup(PyUnicode_AsUTF8(s)) : NULL;
		Py_XDECREF(s);
	} else {
		*trace = NULL;
	}
	if (only && PyList_Check(only) && PyList_GET_SIZE(only) > 0) {
		PyObject *l = PyList_GET_ITEM(only, PyList_GET_SIZE(only) - 1);

		if (PyUnicode_Check(l))
			last = g_strstrip(g_strdup(PyUnicode_AsUTF8(l)));
	}
	Py_XDECREF(sep);
	Py_XDECREF(lines);
	Py_XDECREF(only);
	PyErr_Clear();
	/* A syntax error's line is its own; others', the script's frame. */
	if (v && PyObject_HasAttrString(v, "lineno") &&
	    PyErr_GivenExceptionMatches(t, PyExc_SyntaxError)) {
		PyObject *ln = PyObject_GetAttrString(v, "lineno");

		line = ln && PyLong_Check(ln) ? PyLong_AsLong(ln) : 0;
		Py_XDECREF(ln);
	} else {
		line = tb_line_in(tb, in->file);
	}
	PyErr_Clear();
	Py_XDECREF(t);
	Py_XDECREF(v);
	Py_XDECREF(tb);
	if (!*trace)
		*trace = g_strdup(last ? last : "(cannot format the exception)");
	if (!last)
		last = g_strdup("an exception that cannot be formatted");
	/* One line: a message may hold newlines. */
	g_strdelimit(last, "\n\r", ' ');
	if (line > 0)
		return g_strdup_printf("%s (%s line %ld)", last, base, line);
	return g_strdup_printf("%s (%s)", last, base);
}

static void event_error(struct inst *in, const char *where, uint64_t count,
			const char *trace)
{
	GString *ev = host->event_new("script_error");

	host->event_str(ev, "module", inst_name(in));
	host->event_str(ev, "where", where);
	if (count)
		host->event_int(ev, "count", count);
	host->event_str(ev, "error", trace);
	host->event_emit(ev);
}

/* A hook failed for a reason of the host's: say it as the reason. */
static int hook_refuse(struct inst *in, const char *where, char *err, int ret)
{
	g_free(in->mod->why);
	in->mod->why = g_strdup_printf("%s: %s", where, err ? err : "failed");
	g_free(err);
	return ret ? ret : -EINVAL;
}

/* An exception in a callback: counted, logged at the 1st, 2nd, 4th ... */
static void cb_error(struct inst *in, const char *where)
{
	uint64_t n = ++in->errors;
	g_autofree char *trace = NULL;
	g_autofree char *line = NULL;

	if (n & (n - 1)) {
		PyErr_Clear();
		return;
	}
	line = exc_take(in, &trace);
	event_error(in, where, n, trace);
	host->msg("%s: exception in %s (%" PRIu64 " so far): %s\n%s",
		  inst_name(in), where, n, line, trace);
}

/* -- the hooks' Python, bounded ---------------------------------------------------- */

/*
 * The Python of a hook (the script's body, its init(), exit(),
 * save_state(), restore_state()) runs on a thread of its own, a job, while
 * the hook's thread waits for it:
 *
 *  - a trace function raises TimeoutError at every line once 3/4 of the
 *    host's hook_timeout has passed: a loop in Python unwinds even through
 *    `except BaseException` (the raise comes again at the next line, the
 *    handler's included);
 *  - a job still running at 7/8 of it (stuck in a C call such as
 *    time.sleep()) is left behind: the hook fails, and the instance is
 *    never freed, since the job may still use it.  The host's guard, which
 *    would end the hook at the full hook_timeout by jumping out of it,
 *    never has to jump out of the interpreter, which would leave the
 *    thread's Python state broken.
 *
 * A job only touches its instance and itself: the hook's thread applies
 * its result to the host's module.
 */
struct job {
	struct inst *in;
	int (*fn)(struct job *j);
	void *arg;
	const char *where;
	int ret;
	char *why;		/* a failure's one line */
	bool done, abandoned;	/* under job_lock */
};

static GMutex job_lock;
static GCond job_cond;

static int trace_bound(PyObject *obj, PyFrameObject *frame, int what,
		       PyObject *arg)
{
	(void)obj;
	(void)frame;
	(void)what;
	(void)arg;
	if (deadline && g_get_monotonic_time() > deadline) {
		py_raise(PyExc_TimeoutError, "did not return within %.1f s "
			 "(3/4 of hook_timeout)", bound_us / 1e6);
		return -1;
	}
	return 0;
}

/*
 * @j failed with the pending exception: its one line (j->why), and the
 * traceback in an event and on -d plugin.
 */
static int job_fail(struct job *j)
{
	g_autofree char *trace = NULL;
	g_autofree char *line = NULL;

	/* Formatting runs Python: the bound, passed, must not hit it. */
	deadline = 0;
	line = exc_take(j->in, &trace);
	g_free(j->why);
	j->why = g_strdup_printf("%s: %s", j->where, line);
	event_error(j->in, j->where, 0, trace);
	host->msg("%s: %s failed:\n%s", inst_name(j->in), j->where, trace);
	return -EINVAL;
}

static void job_free(struct job *j)
{
	g_free(j->why);
	g_free(j);
}

static gpointer job_thread(gpointer p)
{
	struct job *j = p;
	struct py_enter e;
	int ret;

	/* A thread for one job: its Python state goes with it. */
	thread_state_kept = true;
	enter(&e, j->in);
	if (bound_us) {
		deadline = g_get_monotonic_time() + bound_us;
		PyEval_SetTrace(trace_bound, NULL);
	}
	ret = j->fn(j);
	deadline = 0;
	PyEval_SetTrace(NULL, NULL);
	leave(&e);
	g_mutex_lock(&job_lock);
	j->ret = ret;
	j->done = true;
	if (j->abandoned)
		job_free(j);
	else
		g_cond_broadcast(&job_cond);
	g_mutex_unlock(&job_lock);
	return NULL;
}

/*
 * Run @fn's Python for hook @where of @in on a job thread, bounded; its
 * failure's reason becomes the module's.  0 or -errno.
 */
static int run_job(struct inst *in, const char *where, int (*fn)(struct job *j),
		   void *arg)
{
	struct job *j = g_new0(struct job, 1);
	int64_t until = bound_us ? g_get_monotonic_time() + bound_us * 7 / 6 : 0;
	GError *gerr = NULL;
	GThread *t;
	char *why;
	int ret;

	j->in = in;
	j->fn = fn;
	j->arg = arg;
	j->where = where;
	t = g_thread_try_new("modhost-py", job_thread, j, &gerr);
	if (!t) {
		why = g_strdup_printf("%s: cannot start a thread: %s", where,
				      gerr->message);
		g_error_free(gerr);
		job_free(j);
		ret = -EAGAIN;
		goto out;
	}
	g_thread_unref(t);
	g_mutex_lock(&job_lock);
	while (!j->done) {
		if (!until)
			g_cond_wait(&job_cond, &job_lock);
		else if (!g_cond_wait_until(&job_cond, &job_lock, until))
			break;
	}
	if (j->done) {
		ret = j->ret;
		why = g_steal_pointer(&j->why);
		job_free(j);
	} else {
		j->abandoned = true;
		in->abandoned = true;
		ret = -ETIMEDOUT;
		why = g_strdup_printf("%s: did not return within %.1f s, blocked "
				      "outside Python (7/8 of hook_timeout); its "
				      "thread is left behind", where,
				      bound_us * 7 / 6 / 1e6);
	}
	g_mutex_unlock(&job_lock);
out:
	if (ret) {
		g_free(in->mod->why);
		in->mod->why = why ? why : g_strdup_printf("%s failed", where);
	} else {
		g_free(why);
	}
	return ret;
}

/* -- modhost.Cpu ----------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	unsigned int vcpu;
	bool active;		/* inside the callback that made it */
	pthread_t thread;	/* ... on this vCPU thread */
	bool has_call;
	uint64_t pc;
	struct mh_hypercall call;
} CpuObject;

static PyTypeObject CpuType;

static CpuObject *cpu_new(unsigned int vcpu, const struct mh_hypercall *call,
			  uint64_t pc)
{
	CpuObject *c = PyObject_New(CpuObject, &CpuType);

	if (!c)
		return NULL;
	c->vcpu = vcpu;
	c->active = true;
	c->thread = pthread_self();
	c->has_call = call != NULL;
	if (call)
		c->call = *call;
	c->pc = call ? call->pc : pc;
	return c;
}

/* The callback is over: a Cpu the script kept reads nothing more. */
static void cpu_done(CpuObject *c)
{
	if (!c)
		return;
	c->active = false;
	Py_DECREF(c);
}

static bool cpu_live(CpuObject *c)
{
	if (c->active && pthread_equal(c->thread, pthread_self()))
		return true;
	PyErr_SetString(PyExc_RuntimeError, "this Cpu is only valid inside the "
			"callback it was passed to");
	return false;
}

static PyObject *cpu_arg(PyObject *self, PyObject *o)
{
	CpuObject *c = (CpuObject *)self;
	long i = PyLong_AsLong(o);

	if (i == -1 && PyErr_Occurred())
		return NULL;
	if (!c->has_call) {
		PyErr_SetString(PyExc_RuntimeError, "not a hypercall: no arguments");
		return NULL;
	}
	if (i < 0 || i > 5) {
		py_raise(PyExc_IndexError, "hypercall argument %ld: 0..5", i);
		return NULL;
	}
	return PyLong_FromUnsignedLongLong(c->call.args[i]);
}

static PyObject *cpu_reg(PyObject *self, PyObject *o)
{
	CpuObject *c = (CpuObject *)self;
	const char *name = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
	uint8_t buf[64];
	mh_reg *r;
	int n;

	if (!name) {
		PyErr_SetString(PyExc_TypeError, "reg(name): a register name");
		return NULL;
	}
	if (!cpu_live(c))
		return NULL;
	r = api->reg_lookup(name);
	n = r ? api->reg_read(r, buf, sizeof(buf)) : -ENOENT;
	if (n <= 0) {
		py_raise(PyExc_ValueError, "no register '%s' to read", name);
		return NULL;
	}
	return _PyLong_FromByteArray(buf, MIN((size_t)n, sizeof(buf)), 1, 0);
}

static PyObject *cpu_read(PyObject *self, PyObject *args)
{
	CpuObject *c = (CpuObject *)self;
	unsigned long long addr;
	Py_ssize_t size;
	PyObject *b;

	if (!PyArg_ParseTuple(args, "Kn:read", &addr, &size) || !cpu_live(c))
		return NULL;
	if (size < 0 || size > READ_MAX) {
		py_raise(PyExc_ValueError, "read: size %zd is not 0..%u", size,
			     READ_MAX);
		return NULL;
	}
	b = PyBytes_FromStringAndSize(NULL, size);
	if (b && api->mem_read(addr, PyBytes_AS_STRING(b), size)) {
		Py_DECREF(b);
		py_raise(guest_fault, "guest memory at 0x%llx (%zd bytes) is "
			     "not mapped", addr, size);
		return NULL;
	}
	return b;
}

static PyObject *cpu_read_str(PyObject *self, PyObject *args)
{
	CpuObject *c = (CpuObject *)self;
	unsigned long long addr;
	Py_ssize_t max = 4096;
	g_autoptr(GString) s = g_string_new(NULL);

	if (!PyArg_ParseTuple(args, "K|n:read_str", &addr, &max) || !cpu_live(c))
		return NULL;
	/* A page at a time: the string may end just before an unmapped one. */
	while ((Py_ssize_t)s->len < max) {
		char chunk[256];
		size_t n = MIN(sizeof(chunk), 4096 - (addr & 4095));
		const char *nul;

		n = MIN(n, (size_t)(max - s->len));
		if (api->mem_read(addr, chunk, n)) {
			py_raise(guest_fault, "guest string at 0x%llx is not "
				     "mapped", addr);
			return NULL;
		}
		nul = memchr(chunk, 0, n);
		g_string_append_len(s, chunk, nul ? nul - chunk : (gssize)n);
		if (nul)
			break;
		addr += n;
	}
	return PyUnicode_DecodeUTF8(s->str, s->len, "replace");
}

static PyObject *cpu_get_index(PyObject *self, void *unused)
{
	(void)unused;
	return PyLong_FromUnsignedLong(((CpuObject *)self)->vcpu);
}

static PyObject *cpu_get_magic(PyObject *self, void *unused)
{
	CpuObject *c = (CpuObject *)self;

	(void)unused;
	if (!c->has_call)
		Py_RETURN_NONE;
	return PyLong_FromUnsignedLong(c->call.magic);
}

static PyObject *cpu_get_args(PyObject *self, void *unused)
{
	CpuObject *c = (CpuObject *)self;

	(void)unused;
	if (!c->has_call)
		return PyTuple_New(0);
	return Py_BuildValue("(KKKKKK)", c->call.args[0], c->call.args[1],
			     c->call.args[2], c->call.args[3], c->call.args[4],
			     c->call.args[5]);
}

static PyObject *cpu_get_pc(PyObject *self, void *unused)
{
	(void)unused;
	return PyLong_FromUnsignedLongLong(((CpuObject *)self)->pc);
}

static PyObject *cpu_repr(PyObject *self)
{
	return PyUnicode_FromFormat("<modhost.Cpu %u>", ((CpuObject *)self)->vcpu);
}

static PyMethodDef cpu_methods[] = {
	{ "arg", cpu_arg, METH_O, "arg(i): hypercall argument i (0..5)" },
	{ "reg", cpu_reg, METH_O, "reg(name): a register's value" },
	{ "read", cpu_read, METH_VARARGS,
	  "read(vaddr, size): guest memory as bytes; GuestFault if unmapped" },
	{ "read_str", cpu_read_str, METH_VARARGS,
	  "read_str(vaddr, max=4096): a NUL-terminated guest string" },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef cpu_getset[] = {
	{ "index", cpu_get_index, NULL, "the vCPU index", NULL },
	{ "magic", cpu_get_magic, NULL, "the hypercall's magic (eax)", NULL },
	{ "args", cpu_get_args, NULL, "the six hypercall arguments", NULL },
	{ "pc", cpu_get_pc, NULL, "the guest pc of the callback", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject CpuType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "modhost.Cpu",
	.tp_basicsize = sizeof(CpuObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A vCPU, inside the callback it was passed to.",
	.tp_methods = cpu_methods,
	.tp_getset = cpu_getset,
	.tp_repr = cpu_repr,
};

/* -- modhost.Pointer: a host pointer Python may pass on, never see ---------------- */

typedef struct {
	PyObject_HEAD
	void *p;
} PointerObject;

static PyTypeObject PointerType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "modhost.Pointer",
	.tp_basicsize = sizeof(PointerObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A host pointer from C, opaque: it can only be passed back.",
};

/* -- values between C and Python, by signature type ---------------------------- */

/* A p value: a vCPU handle (mh_cpu *) becomes a Cpu, others opaque. */
static PyObject *ptr_to_py(void *p)
{
	const struct mh_qemu_info *qi = api->qemu_info();
	uintptr_t v = (uintptr_t)p;
	PointerObject *o;

	if (!p)
		Py_RETURN_NONE;
	if (v <= (uintptr_t)MAX(qi->max_vcpus, 1))
		return (PyObject *)cpu_new(mh_cpu_index(p), NULL, 0);
	o = PyObject_New(PointerObject, &PointerType);
	if (o)
		o->p = p;
	return (PyObject *)o;
}

static PyObject *c_to_py(enum mh_type t, const void *v)
{
	switch (t) {
	case MH_T_I8: return PyLong_FromLong(*(const int8_t *)v);
	case MH_T_I16: return PyLong_FromLong(*(const int16_t *)v);
	case MH_T_I32: return PyLong_FromLong(*(const int32_t *)v);
	case MH_T_I64: return PyLong_FromLongLong(*(const int64_t *)v);
	case MH_T_U8: return PyLong_FromUnsignedLong(*(const uint8_t *)v);
	case MH_T_U16: return PyLong_FromUnsignedLong(*(const uint16_t *)v);
	case MH_T_U32: return PyLong_FromUnsignedLong(*(const uint32_t *)v);
	case MH_T_U64:
	case MH_T_GADDR: return PyLong_FromUnsignedLongLong(*(const uint64_t *)v);
	case MH_T_BOOL: return PyBool_FromLong(*(const uint8_t *)v);
	case MH_T_PTR: return ptr_to_py(*(void *const *)v);
	case MH_T_STR: {
		const char *s = *(const char *const *)v;

		if (!s)
			Py_RETURN_NONE;
		return PyUnicode_DecodeUTF8(s, strlen(s), "replace");
	}
	case MH_T_VOID: break;
	}
	Py_RETURN_NONE;
}

/* An integer of type @t from @o into the 8 bytes at @out; -1 and an error. */
static int int_from_py(enum mh_type t, PyObject *o, void *out)
{
	static const struct { int64_t lo; uint64_t hi; } range[] = {
		[MH_T_I8] = { INT8_MIN, INT8_MAX },
		[MH_T_I16] = { INT16_MIN, INT16_MAX },
		[MH_T_I32] = { INT32_MIN, INT32_MAX },
		[MH_T_I64] = { INT64_MIN, INT64_MAX },
		[MH_T_U8] = { 0, UINT8_MAX },
		[MH_T_U16] = { 0, UINT16_MAX },
		[MH_T_U32] = { 0, UINT32_MAX },
		[MH_T_U64] = { 0, UINT64_MAX },
		[MH_T_GADDR] = { 0, UINT64_MAX },
	};
	int overflow = 0;
	long long v;
	unsigned long long u;

	if (t == MH_T_BOOL) {
		int b = PyObject_IsTrue(o);

		if (b < 0)
			return -1;
		*(uint64_t *)out = b;
		return 0;
	}
	if (!PyLong_Check(o)) {
		py_raise(PyExc_TypeError, "expected an int, not %s",
			     Py_TYPE(o)->tp_name);
		return -1;
	}
	v = PyLong_AsLongLongAndOverflow(o, &overflow);
	if (overflow < 0)
		goto bad;
	if (overflow > 0) {
		u = PyLong_AsUnsignedLongLong(o);
		if (PyErr_Occurred())
			return -1;
		if (u > range[t].hi)
			goto bad;
		*(uint64_t *)out = u;
		return 0;
	}
	if (v < range[t].lo || (v >= 0 && (uint64_t)v > range[t].hi))
		goto bad;
	/* Signed values sign-extended: libffi reads the low bytes. */
	*(uint64_t *)out = (uint64_t)v;
	return 0;
bad:
	PyErr_Format(PyExc_OverflowError, "%R does not fit the argument type", o);
	return -1;
}

/* -- modhost.import_fn(): C from Python ----------------------------------------- */

typedef struct {
	PyObject_HEAD
	struct inst *in;
	char *module, *name, *want;
	char *sig;		/* the export's, once bound */
	void *fn;		/* the stable pointer, once bound */
	struct mh_sig_ffi fs;
} ImportObject;

static PyTypeObject ImportType;

static PyObject *import_call(PyObject *self, PyObject *args, PyObject *kw)
{
	ImportObject *im = (ImportObject *)self;
	unsigned int n = im->fs.sig.nargs;
	union { uint64_t u; void *p; const char *s; } vals[MH_SIG_MAX_ARGS];
	uint64_t ret[2] = { 0, 0 };
	void *argp[MH_SIG_MAX_ARGS];
	Py_buffer views[MH_SIG_MAX_ARGS];
	bool viewed[MH_SIG_MAX_ARGS] = { false };
	PyObject *result = NULL;

	if (!im->fn) {
		py_raise(PyExc_RuntimeError, "%s.%s is bound when the module's "
			     "init runs: call it from init() or a callback",
			     im->module, im->name);
		return NULL;
	}
	if (kw && PyDict_GET_SIZE(kw)) {
		PyErr_SetString(PyExc_TypeError, "no keyword arguments");
		return NULL;
	}
	if ((unsigned int)PyTuple_GET_SIZE(args) != n) {
		py_raise(PyExc_TypeError, "%s.%s (%s) takes %u arguments, "
			     "%zd given", im->module, im->name, im->sig, n,
			     PyTuple_GET_SIZE(args));
		return NULL;
	}
	for (unsigned int i = 0; i < n; i++) {
		PyObject *o = PyTuple_GET_ITEM(args, i);
		enum mh_type t = im->fs.sig.args[i];

		argp[i] = &vals[i];
		vals[i].u = 0;
		if (t == MH_T_STR) {
			if (o == Py_None)
				continue;
			if (!PyUnicode_Check(o) ||
			    !(vals[i].s = PyUnicode_AsUTF8(o))) {
				py_raise(PyExc_TypeError, "argument %u: a str "
					     "or None", i);
				goto out;
			}
		} else if (t == MH_T_PTR) {
			/* No raw addresses: only what stands for a real object. */
			if (o == Py_None)
				continue;
			if (Py_IS_TYPE(o, &CpuType)) {
				vals[i].p = mh_cpu_of(((CpuObject *)o)->vcpu);
			} else if (Py_IS_TYPE(o, &PointerType)) {
				vals[i].p = ((PointerObject *)o)->p;
			} else if (PyObject_CheckBuffer(o) &&
				   !PyObject_GetBuffer(o, &views[i], PyBUF_WRITABLE)) {
				viewed[i] = true;
				vals[i].p = views[i].buf;
			} else {
				PyErr_Clear();
				py_raise(PyExc_TypeError, "argument %u (p): a "
					     "modhost.Cpu, a writable buffer "
					     "(bytearray), a modhost.Pointer or "
					     "None, not %s", i, Py_TYPE(o)->tp_name);
				goto out;
			}
		} else if (int_from_py(t, o, &vals[i].u)) {
			py_raise(PyExc_TypeError, "argument %u of %s.%s (%s) "
				     "does not fit", i, im->module, im->name,
				     im->sig);
			goto out;
		}
	}
	ffi_call(&im->fs.cif, FFI_FN(im->fn), ret, argp);
	result = c_to_py(im->fs.sig.ret, ret);
out:
	for (unsigned int i = 0; i < n; i++)
		if (viewed[i])
			PyBuffer_Release(&views[i]);
	return result;
}

static void import_dealloc(PyObject *self)
{
	ImportObject *im = (ImportObject *)self;

	g_free(im->module);
	g_free(im->name);
	g_free(im->want);
	g_free(im->sig);
	PyObject_Free(self);
}

static PyObject *import_repr(PyObject *self)
{
	ImportObject *im = (ImportObject *)self;

	return PyUnicode_FromFormat("<modhost import %s.%s %s>", im->module,
				    im->name, im->sig ? im->sig : "(not bound)");
}

static PyTypeObject ImportType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "modhost.Import",
	.tp_basicsize = sizeof(ImportObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A C module's export, called through its signature.",
	.tp_call = import_call,
	.tp_dealloc = import_dealloc,
	.tp_repr = import_repr,
};

/* -- Python from C: PPP handlers and exports --------------------------------- */

static void py_from_c(ffi_cif *cif, void *ret, void **args, void *udata)
{
	struct pycall *pc = udata;
	unsigned int n = pc->fs.sig.nargs;
	struct py_enter e;
	PyObject *t, *r = NULL;

	(void)cif;
	if (pc->fs.sig.ret != MH_T_VOID)
		*(uint64_t *)ret = 0;
	enter(&e, pc->in);
	t = PyTuple_New(n);
	for (unsigned int i = 0; t && i < n; i++) {
		PyObject *o = c_to_py(pc->fs.sig.args[i], args[i]);

		if (!o) {
			Py_CLEAR(t);
			break;
		}
		PyTuple_SET_ITEM(t, i, o);
	}
	if (t)
		r = PyObject_Call(pc->fn, t, NULL);
	if (r && pc->fs.sig.ret == MH_T_STR) {
		/* The caller frees it, as for a C export's string. */
		const char *s = r == Py_None ? NULL : PyUnicode_AsUTF8(r);

		if (s)
			*(char **)ret = strdup(s);
		else if (r != Py_None)
			Py_CLEAR(r);
	} else if (r && pc->fs.sig.ret == MH_T_PTR) {
		if (Py_IS_TYPE(r, &PointerType))
			*(void **)ret = ((PointerObject *)r)->p;
		else if (r != Py_None) {
			PyErr_SetString(PyExc_TypeError, "a p result is a "
					"modhost.Pointer or None");
			Py_CLEAR(r);
		}
	} else if (r && pc->fs.sig.ret != MH_T_VOID && r != Py_None &&
		   int_from_py(pc->fs.sig.ret, r, ret)) {
		Py_CLEAR(r);
	}
	if (!r)
		cb_error(pc->in, pc->what);
	/* A Cpu passed in is only valid during the call. */
	for (unsigned int i = 0; t && i < n; i++) {
		PyObject *o = PyTuple_GET_ITEM(t, i);

		if (Py_IS_TYPE(o, &CpuType))
			((CpuObject *)o)->active = false;
	}
	Py_XDECREF(t);
	Py_XDECREF(r);
	leave(&e);
}

/* Make @pc's closure for signature @sig; 0 or -errno and *@err. */
static int closure_make(struct pycall *pc, const char *sig, char **err)
{
	int ret = mh_sig_ffi_prep(&pc->fs, sig, err);

	if (ret)
		return ret;
	pc->closure = ffi_closure_alloc(sizeof(ffi_closure), &pc->code);
	if (!pc->closure ||
	    ffi_prep_closure_loc(pc->closure, &pc->fs.cif, py_from_c, pc,
				 pc->code) != FFI_OK) {
		*err = g_strdup("libffi cannot make a closure");
		return -ENOMEM;
	}
	g_free(pc->sig);
	pc->sig = g_strdup(sig);
	return 0;
}

static void pycall_free(gpointer p)
{
	struct pycall *pc = p;

	Py_XDECREF(pc->fn);
	if (pc->closure)
		ffi_closure_free(pc->closure);
	g_free(pc->what);
	g_free(pc->module);
	g_free(pc->name);
	g_free(pc->sig);
	g_free(pc);
}

/* -- callbacks from QEMU and the host ------------------------------------------ */

static uint64_t hypercall_cb(mh_cpu *cpu, const struct mh_hypercall *call,
			     void *opaque)
{
	struct pycall *pc = opaque;
	struct py_enter e;
	CpuObject *c;
	PyObject *r = NULL;
	uint64_t ret = 0;

	enter(&e, pc->in);
	c = cpu_new(mh_cpu_index(cpu), call, 0);
	if (c)
		r = PyObject_CallOneArg(pc->fn, (PyObject *)c);
	if (r && PyLong_Check(r))
		ret = PyLong_AsUnsignedLongLongMask(r);
	if (!r)
		cb_error(pc->in, pc->what);
	Py_XDECREF(r);
	cpu_done(c);
	leave(&e);
	return ret;
}

/*
 * Call @fn(cpu, pc) for an instrumentation callback, or for a memory
 * access (@info valid) @fn(cpu, vaddr, size, is_store).
 */
static void exec_call(struct inst *in, PyObject *fn, const char *what,
		      unsigned int vcpu, uint64_t pc, const uint32_t *info,
		      uint64_t vaddr)
{
	struct py_enter e;
	CpuObject *c;
	PyObject *r = NULL;

	enter(&e, in);
	c = cpu_new(vcpu, NULL, pc);
	if (c && info)
		r = PyObject_CallFunction(fn, "OKIO", (PyObject *)c,
					  (unsigned long long)vaddr,
					  1u << api->mem_size_shift(*info),
					  api->mem_is_store(*info) ?
					  Py_True : Py_False);
	else if (c)
		r = PyObject_CallFunction(fn, "OK", (PyObject *)c,
					  (unsigned long long)pc);
	if (!r)
		cb_error(in, what);
	Py_XDECREF(r);
	cpu_done(c);
	leave(&e);
}

static void block_cb(unsigned int vcpu, void *udata)
{
	struct at *a = udata;

	exec_call(a->in, a->in->on_block, "on_block_exec", vcpu, a->pc, NULL, 0);
}

static void insn_cb(unsigned int vcpu, void *udata)
{
	struct at *a = udata;

	exec_call(a->in, a->in->on_insn, "on_insn_exec", vcpu, a->pc, NULL, 0);
}

static void mem_cb(unsigned int vcpu, uint32_t info, uint64_t vaddr,
		   void *udata)
{
	struct at *a = udata;

	exec_call(a->in, a->in->on_mem, "on_mem_access", vcpu, a->pc, &info,
		  vaddr);
}

/* The udata of a block or instruction of @in: freed when @in goes. */
static struct at *at_new(struct inst *in, uint64_t pc)
{
	struct at *a = g_new(struct at, 1);

	a->in = in;
	a->pc = pc;
	g_mutex_lock(&in->at_lock);
	g_ptr_array_add(in->ats, a);
	g_mutex_unlock(&in->at_lock);
	return a;
}

/* On a vCPU, translating: no Python here. */
static void translate(mh_tb *tb, void *opaque)
{
	struct inst *in = opaque;
	size_t n = api->tb_n_insns(tb);

	if (in->on_block)
		api->tb_exec_cb(tb, block_cb, MH_CB_R_REGS,
				at_new(in, api->tb_vaddr(tb)));
	if (!in->on_insn && !in->on_mem)
		return;
	for (size_t i = 0; i < n; i++) {
		mh_insn *insn = api->tb_insn(tb, i);
		struct at *a = at_new(in, api->insn_vaddr(insn));

		if (in->on_insn)
			api->insn_exec_cb(insn, insn_cb, MH_CB_R_REGS, a);
		if (in->on_mem)
			api->insn_mem_cb(insn, mem_cb, MH_CB_R_REGS, MH_MEM_RW, a);
	}
}

/* -- the modhost package ------------------------------------------------------------ */

static const enum mh_log_level levels[] = {
	MH_LOG_ERROR, MH_LOG_WARN, MH_LOG_INFO, MH_LOG_DEBUG,
};
static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* The instance whose code runs now, or NULL and an error. */
static struct inst *running(const char *what)
{
	if (!cur)
		py_raise(PyExc_RuntimeError, "modhost.%s: no modhost script "
			     "runs on this thread", what);
	return cur;
}

/* The instance whose body runs now (decorators), or NULL and an error. */
static struct inst *importing(const char *what)
{
	struct inst *in = running(what);

	if (in && in->ex_table) {
		py_raise(PyExc_RuntimeError, "modhost.%s: only while the "
			     "script is imported (at its top level)", what);
		return NULL;
	}
	return in;
}

static struct pycall *pycall_new(struct inst *in, PyObject *fn, char *what)
{
	struct pycall *pc = g_new0(struct pycall, 1);

	pc->in = in;
	Py_INCREF(fn);
	pc->fn = fn;
	pc->what = what;
	return pc;
}

static bool check_callable(PyObject *fn)
{
	if (PyCallable_Check(fn))
		return true;
	py_raise(PyExc_TypeError, "%s is not callable", Py_TYPE(fn)->tp_name);
	return false;
}

static PyObject *mod_hypercall(PyObject *self, PyObject *args)
{
	struct inst *in = importing("hypercall");
	unsigned long long magic;
	struct pycall *pc;
	PyObject *fn;

	(void)self;
	if (!in || !PyArg_ParseTuple(args, "KO:hypercall", &magic, &fn) ||
	    !check_callable(fn))
		return NULL;
	if (magic > UINT32_MAX) {
		py_raise(PyExc_ValueError, "hypercall magic 0x%llx is not "
			     "32 bits", magic);
		return NULL;
	}
	if (!mh_hypercall_routable(magic)) {
		py_raise(PyExc_ValueError, "hypercall magic 0x%08llx is %s",
			     magic, mh_hypercall_is_leaf(magic) ?
			     "a real cpuid leaf range" : "reserved for the host");
		return NULL;
	}
	for (guint i = 0; i < in->hcalls->len; i++) {
		struct pycall *o = g_ptr_array_index(in->hcalls, i);

		if (o->magic == magic) {
			py_raise(PyExc_ValueError, "hypercall magic 0x%08llx "
				     "registered twice", magic);
			return NULL;
		}
	}
	pc = pycall_new(in, fn, g_strdup_printf("hypercall 0x%08llx", magic));
	pc->magic = magic;
	g_ptr_array_add(in->hcalls, pc);
	Py_RETURN_NONE;
}

static PyObject *mod_ppp(PyObject *self, PyObject *args)
{
	struct inst *in = importing("ppp");
	const char *module, *point;
	struct pycall *pc;
	PyObject *fn;

	(void)self;
	if (!in || !PyArg_ParseTuple(args, "ssO:ppp", &module, &point, &fn) ||
	    !check_callable(fn))
		return NULL;
	if (!mh_valid_module_name(module, strlen(module)) ||
	    !mh_valid_param_name(point)) {
		PyErr_Format(PyExc_ValueError, "ppp(%R, %R): a module name and a "
			     "point name", PyTuple_GET_ITEM(args, 0),
			     PyTuple_GET_ITEM(args, 1));
		return NULL;
	}
	pc = pycall_new(in, fn, g_strdup_printf("ppp %s.%s", module, point));
	pc->module = g_strdup(module);
	pc->name = g_strdup(point);
	g_ptr_array_add(in->ppps, pc);
	Py_RETURN_NONE;
}

static PyObject *mod_export(PyObject *self, PyObject *args)
{
	struct inst *in = importing("export");
	const char *name, *sig;
	g_autofree char *err = NULL;
	struct pycall *pc;
	PyObject *fn;

	(void)self;
	if (!in || !PyArg_ParseTuple(args, "ssO:export", &name, &sig, &fn) ||
	    !check_callable(fn))
		return NULL;
	if (!mh_valid_param_name(name)) {
		PyErr_Format(PyExc_ValueError, "export name %R is not an "
			     "identifier", PyTuple_GET_ITEM(args, 0));
		return NULL;
	}
	for (guint i = 0; i < in->exports->len; i++) {
		struct pycall *o = g_ptr_array_index(in->exports, i);

		if (!strcmp(o->name, name)) {
			py_raise(PyExc_ValueError, "export '%s' given twice",
				     name);
			return NULL;
		}
	}
	pc = pycall_new(in, fn, g_strdup_printf("export %s", name));
	pc->name = g_strdup(name);
	if (closure_make(pc, sig, &err)) {
		pycall_free(pc);
		py_raise(PyExc_ValueError, "export '%s': %s", name, err);
		return NULL;
	}
	g_ptr_array_add(in->exports, pc);
	Py_RETURN_NONE;
}

static PyObject *mod_on(PyObject *self, PyObject *args)
{
	struct inst *in = importing("on_*");
	const char *kind;
	PyObject *fn, **slot;

	(void)self;
	if (!in || !PyArg_ParseTuple(args, "sO:_on", &kind, &fn) ||
	    !check_callable(fn))
		return NULL;
	slot = !strcmp(kind, "block") ? &in->on_block :
	       !strcmp(kind, "insn") ? &in->on_insn : &in->on_mem;
	if (*slot) {
		py_raise(PyExc_ValueError, "one %s callback per script", kind);
		return NULL;
	}
	Py_INCREF(fn);
	*slot = fn;
	Py_RETURN_NONE;
}

static PyObject *mod_import_fn(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "module", "name", "signature", NULL };
	struct inst *in = importing("import_fn");
	const char *module, *name, *want = NULL;
	ImportObject *im;

	(void)self;
	if (!in || !PyArg_ParseTupleAndKeywords(args, kw, "ss|z:import_fn",
						kwlist, &module, &name, &want))
		return NULL;
	if (!mh_valid_module_name(module, strlen(module)) ||
	    !mh_valid_param_name(name) || (want && !mh_sig_valid(want))) {
		py_raise(PyExc_ValueError, "import_fn(%s, %s%s%s): a module, "
			     "an export name and optionally its signature",
			     module, name, want ? ", " : "", want ? want : "");
		return NULL;
	}
	im = PyObject_New(ImportObject, &ImportType);
	if (!im)
		return NULL;
	im->in = in;
	im->module = g_strdup(module);
	im->name = g_strdup(name);
	im->want = g_strdup(want);
	im->sig = NULL;
	im->fn = NULL;
	Py_INCREF(im);
	g_ptr_array_add(in->imports, im);
	return (PyObject *)im;
}


/* What api->log() does, by the instance's own name (see struct inst). */
static void say(enum mh_log_level level, const char *text)
{
	GString *ev;

	if (!cur) {
		host->msg("python: %s", text);
		return;
	}
	host->msg("%s: %s", inst_name(cur), text);
	ev = host->event_new("message");
	host->event_str(ev, "module", inst_name(cur));
	host->event_str(ev, "level", level_names[level]);
	host->event_str(ev, "text", text);
	host->event_emit(ev);
}

static PyObject *mod_log(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "text", "level", NULL };
	const char *text, *level = "info";

	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|s:log", kwlist, &text,
					 &level))
		return NULL;
	for (unsigned int i = 0; i < G_N_ELEMENTS(level_names); i++) {
		if (!strcmp(level, level_names[i])) {
			say(levels[i], text);
			Py_RETURN_NONE;
		}
	}
	py_raise(PyExc_ValueError, "log level '%s': error, warn, info or "
		     "debug", level);
	return NULL;
}

static PyObject *mod_param(PyObject *self, PyObject *args)
{
	struct inst *in = running("param");
	const char *name, *v;
	PyObject *def = Py_None;

	(void)self;
	if (!in || !PyArg_ParseTuple(args, "s|O:param", &name, &def))
		return NULL;
	v = *name ? g_hash_table_lookup(in->params, name) : NULL;
	if (!v) {
		Py_INCREF(def);
		return def;
	}
	return PyUnicode_DecodeUTF8(v, strlen(v), "replace");
}

static PyObject *mod_name(PyObject *self, PyObject *unused)
{
	struct inst *in = running("name");

	(void)self;
	(void)unused;
	return in ? PyUnicode_FromString(inst_name(in)) : NULL;
}

static PyObject *mod_num_vcpus(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyLong_FromUnsignedLong(api->num_vcpus());
}

/* sys.stdout and sys.stderr: a line at a time to the event log. */
static PyObject *mod_write(PyObject *self, PyObject *args)
{
	static GString *orphan;	/* output of threads of no script */
	const char *s;
	Py_ssize_t n;
	GString *buf;
	char *nl;

	(void)self;
	if (!PyArg_ParseTuple(args, "s#:write", &s, &n))
		return NULL;
	if (!orphan)
		orphan = g_string_new(NULL);
	buf = cur ? cur->out : orphan;
	g_string_append_len(buf, s, n);
	while ((nl = memchr(buf->str, '\n', buf->len))) {
		*nl = '\0';
		say(MH_LOG_INFO, buf->str);
		g_string_erase(buf, 0, nl - buf->str + 1);
	}
	return PyLong_FromSsize_t(n);
}

static PyObject *mod_flush(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	Py_RETURN_NONE;
}

static PyMethodDef modhost_methods[] = {
	{ "_hypercall", mod_hypercall, METH_VARARGS, NULL },
	{ "_ppp", mod_ppp, METH_VARARGS, NULL },
	{ "_export", mod_export, METH_VARARGS, NULL },
	{ "_on", mod_on, METH_VARARGS, NULL },
	{ "_write", mod_write, METH_VARARGS, NULL },
	{ "_flush", mod_flush, METH_NOARGS, NULL },
	{ "import_fn", (PyCFunction)(void (*)(void))mod_import_fn,
	  METH_VARARGS | METH_KEYWORDS,
	  "import_fn(module, name, signature=None): a C module's export, "
	  "callable from init() and callbacks" },
	{ "log", (PyCFunction)(void (*)(void))mod_log,
	  METH_VARARGS | METH_KEYWORDS,
	  "log(text, level='info'): a line in the event log and on -d plugin" },
	{ "param", mod_param, METH_VARARGS,
	  "param(name, default=None): NAME.PARAM=VALUE given for this load" },
	{ "name", mod_name, METH_NOARGS, "name(): this module's name" },
	{ "num_vcpus", mod_num_vcpus, METH_NOARGS, "num_vcpus(): vCPUs now" },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef modhost_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "modhost",
	.m_doc = "modhost: guest analysis scripts (Documentation/python.rst)",
	.m_size = -1,
	.m_methods = modhost_methods,
};

/* The decorators, in Python: they only hand their arguments to the C side. */
static const char helpers[] =
"class _Out:\n"
"    encoding = 'utf-8'\n"
"    def write(self, s):\n"
"        return _write(str(s))\n"
"    def flush(self):\n"
"        pass\n"
"\n"
"def hypercall(magic):\n"
"    '''@modhost.hypercall(MAGIC) on def f(cpu): the guest's hypercall MAGIC.'''\n"
"    def register(fn):\n"
"        _hypercall(magic, fn)\n"
"        return fn\n"
"    return register\n"
"\n"
"def ppp(module, point):\n"
"    '''@modhost.ppp(MODULE, POINT): a handler of a C module's PPP point.'''\n"
"    def register(fn):\n"
"        _ppp(module, point, fn)\n"
"        return fn\n"
"    return register\n"
"\n"
"def export(name, signature):\n"
"    '''@modhost.export(NAME, SIG): MODULE.NAME for C modules and routes.'''\n"
"    def register(fn):\n"
"        _export(name, signature, fn)\n"
"        return fn\n"
"    return register\n"
"\n"
"def on_block_exec(fn):\n"
"    '''def f(cpu, pc): before each guest block.'''\n"
"    _on('block', fn)\n"
"    return fn\n"
"\n"
"def on_insn_exec(fn):\n"
"    '''def f(cpu, pc): before each guest instruction.'''\n"
"    _on('insn', fn)\n"
"    return fn\n"
"\n"
"def on_mem_access(fn):\n"
"    '''def f(cpu, vaddr, size, is_store): each guest memory access.'''\n"
"    _on('mem', fn)\n"
"    return fn\n";

static PyObject *modhost_init(void)
{
	PyObject *m = PyModule_Create(&modhost_def);
	PyObject *d, *r;

	if (!m)
		return NULL;
	if (PyType_Ready(&CpuType) || PyType_Ready(&PointerType) ||
	    PyType_Ready(&ImportType))
		goto fail;
	guest_fault = PyErr_NewException("modhost.GuestFault", PyExc_OSError,
					 NULL);
	if (!guest_fault)
		goto fail;
	Py_INCREF(guest_fault);
	Py_INCREF(&CpuType);
	Py_INCREF(&PointerType);
	if (PyModule_AddObject(m, "GuestFault", guest_fault) ||
	    PyModule_AddObject(m, "Cpu", (PyObject *)&CpuType) ||
	    PyModule_AddObject(m, "Pointer", (PyObject *)&PointerType))
		goto fail;
	d = PyModule_GetDict(m);
	if (PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()))
		goto fail;
	r = PyRun_String(helpers, Py_file_input, d, d);
	if (!r)
		goto fail;
	Py_DECREF(r);
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}

/* -- the module hooks --------------------------------------------------------- */

static struct inst *inst_of(mh_module *self)
{
	return self->script;
}

static void meta_sym_free(gpointer p)
{
	struct mh_meta_sym *s = p;

	g_free(s->module);
	g_free(s->name);
	g_free(s->sig);
	g_free(s);
}

/* The script's body ran: its exports become the module's tables. */
static void exports_publish(struct inst *in)
{
	struct mh_meta *m = in->mod->meta;
	guint n = in->exports->len;

	in->ex_table = g_new0(struct mh_export, n + 1);
	g_ptr_array_set_free_func(m->exports, meta_sym_free);
	for (guint i = 0; i < n; i++) {
		struct pycall *pc = g_ptr_array_index(in->exports, i);
		struct mh_meta_sym *s = g_new0(struct mh_meta_sym, 1);

		in->ex_table[i] = (struct mh_export){ pc->name, pc->sig,
						      (void (*)(void))pc->code };
		s->name = g_strdup(pc->name);
		s->sig = g_strdup(pc->sig);
		g_ptr_array_add(m->exports, s);
	}
	in->mod->ops.exports = in->ex_table;
	in->mod->ops.exports_end = in->ex_table + n;
}

/* The script's body, on its job thread. */
static int job_import(struct job *j)
{
	struct inst *in = j->in;
	PyObject *code, *d, *file, *r = NULL;

	in->ns = PyModule_New(inst_name(in));
	d = in->ns ? PyModule_GetDict(in->ns) : NULL;
	file = PyUnicode_FromString(in->file);
	if (!d || !file || PyDict_SetItemString(d, "__file__", file) ||
	    PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins())) {
		Py_XDECREF(file);
		return job_fail(j);
	}
	Py_DECREF(file);
	code = Py_CompileString(in->source, in->file, Py_file_input);
	if (code) {
		r = PyEval_EvalCode(code, d, d);
		Py_DECREF(code);
	}
	if (!r)
		return job_fail(j);
	Py_DECREF(r);
	return 0;
}

static int py_prepare(mh_module *self, const struct mh_api *a)
{
	struct inst *in = inst_of(self);
	int ret;

	(void)a;
	ret = run_job(in, "import", job_import, NULL);
	if (!ret)
		exports_publish(in);
	return ret;
}

/* The script's function @name, if it defines one (new reference). */
static PyObject *script_fn(struct inst *in, const char *name)
{
	PyObject *f = PyObject_GetAttrString(in->ns, name);

	if (f && PyCallable_Check(f))
		return f;
	Py_XDECREF(f);
	PyErr_Clear();
	return NULL;
}

/* Register @pc, a PPP handler, with the point's current signature. */
static int ppp_bind(struct inst *in, struct pycall *pc, char **err)
{
	g_autofree char *sig = host->ppp_sig(pc->module, pc->name, err);
	int ret;

	if (!sig)
		return -ENOENT;
	if (!pc->sig || strcmp(pc->sig, sig)) {
		/* A rollback's init, the point changed: a new closure. */
		if (pc->closure)
			g_ptr_array_add(in->old_closures, pc->closure);
		pc->closure = NULL;
		ret = closure_make(pc, sig, err);
		if (ret)
			return ret;
	}
	return host->ppp_register(in->mod, pc->module, pc->name, sig,
				  (void (*)(void))pc->code, err);
}

static int import_bind(ImportObject *im, char **err)
{
	char *sig = NULL;
	void *fn = host->import(im->in->mod, im->module, im->name, im->want,
				&sig, err);
	int ret;

	if (!fn)
		return -ENOENT;
	if (!im->sig || strcmp(im->sig, sig)) {
		ret = mh_sig_ffi_prep(&im->fs, sig, err);
		if (ret) {
			g_free(sig);
			return ret;
		}
		g_free(im->sig);
		im->sig = sig;
	} else {
		g_free(sig);
	}
	im->fn = fn;
	return 0;
}

/* The script's function j->arg (a name), if it has one, on its job thread. */
static int job_call(struct job *j)
{
	PyObject *f = script_fn(j->in, j->arg), *r;

	if (!f)
		return 0;
	r = PyObject_CallNoArgs(f);
	Py_DECREF(f);
	if (!r)
		return job_fail(j);
	Py_DECREF(r);
	return 0;
}

static int py_init(mh_module *self, const struct mh_api *a)
{
	struct inst *in = inst_of(self);
	char *err = NULL;
	int ret = 0;

	/* The decorators' records: plain C data, the script's body is done. */
	for (guint i = 0; !ret && i < in->hcalls->len; i++) {
		struct pycall *pc = g_ptr_array_index(in->hcalls, i);

		ret = host->hypercall_register(self, pc->magic, hypercall_cb, pc,
					       &err);
		if (ret)
			ret = hook_refuse(in, "init", err, ret);
		err = NULL;
	}
	for (guint i = 0; !ret && i < in->ppps->len; i++) {
		ret = ppp_bind(in, g_ptr_array_index(in->ppps, i), &err);
		if (ret)
			ret = hook_refuse(in, "init", err, ret);
	}
	for (guint i = 0; !ret && i < in->imports->len; i++) {
		ret = import_bind(g_ptr_array_index(in->imports, i), &err);
		if (ret)
			ret = hook_refuse(in, "init", err, ret);
	}
	if (!ret && (in->on_block || in->on_insn || in->on_mem))
		ret = a->set_translate(self, translate, in);
	if (!ret)
		ret = run_job(in, "init", job_call, "init");
	return ret;
}

/* The script's exit(): an exception is counted, the module goes anyway. */
static int job_exit(struct job *j)
{
	PyObject *f = script_fn(j->in, "exit"), *r;

	if (!f)
		return 0;
	r = PyObject_CallNoArgs(f);
	Py_DECREF(f);
	if (!r)
		cb_error(j->in, "exit");
	Py_XDECREF(r);
	return 0;
}

static void py_exit(mh_module *self)
{
	struct inst *in = inst_of(self);

	run_job(in, "exit", job_exit, NULL);
	if (in->errors) {
		GString *ev = host->event_new("script_errors");

		host->event_str(ev, "module", inst_name(in));
		host->event_int(ev, "count", in->errors);
		host->event_emit(ev);
	}
	/* Unbound until a rollback's init binds them again. */
	for (guint i = 0; i < in->imports->len; i++)
		((ImportObject *)g_ptr_array_index(in->imports, i))->fn = NULL;
	/*
	 * The code calling these is flushed by now, except when QEMU exits:
	 * then other vCPUs may still run it.
	 */
	if (!api->exiting()) {
		g_mutex_lock(&in->at_lock);
		g_ptr_array_set_size(in->ats, 0);
		g_mutex_unlock(&in->at_lock);
	}
}

/*
 * A hook's pickled state, between the hook's thread and the job's: on the
 * heap, copied, and left to a job left behind.
 */
struct state_arg {
	void *data;
	size_t len;
	char *old_version;
};

static int job_save(struct job *j)
{
	struct state_arg *sa = j->arg;
	PyObject *f = script_fn(j->in, "save_state"), *v, *blob = NULL;
	int ret = 0;

	if (!f)
		return 0;
	v = PyObject_CallNoArgs(f);
	Py_DECREF(f);
	if (v)
		blob = PyObject_CallOneArg(pickle_dumps, v);
	Py_XDECREF(v);
	if (!blob)
		return job_fail(j);
	sa->len = PyBytes_GET_SIZE(blob);
	sa->data = malloc(sa->len ? sa->len : 1);
	if (sa->data)
		memcpy(sa->data, PyBytes_AS_STRING(blob), sa->len);
	else
		ret = -ENOMEM;
	Py_DECREF(blob);
	return ret;
}

static int py_save_state(mh_module *self, void **data, size_t *len)
{
	struct state_arg *sa = g_new0(struct state_arg, 1);
	int ret = run_job(inst_of(self), "save_state", job_save, sa);

	*data = NULL;
	*len = 0;
	if (ret == -ETIMEDOUT)
		return ret;	/* the job may still write sa */
	if (!ret) {
		*data = sa->data;
		*len = sa->len;
	} else {
		free(sa->data);
	}
	g_free(sa);
	return ret;
}

static int job_restore(struct job *j)
{
	struct state_arg *sa = j->arg;
	PyObject *f = script_fn(j->in, "restore_state"), *bytes, *v = NULL;
	PyObject *r = NULL;

	if (!f)
		return 0;
	bytes = PyBytes_FromStringAndSize(sa->data, sa->len);
	if (bytes)
		v = PyObject_CallOneArg(pickle_loads, bytes);
	Py_XDECREF(bytes);
	if (v)
		r = PyObject_CallFunction(f, "Os", v, sa->old_version);
	Py_DECREF(f);
	Py_XDECREF(v);
	if (!r)
		return job_fail(j);
	Py_DECREF(r);
	return 0;
}

static int py_restore_state(mh_module *self, const void *data, size_t len,
			    const char *old_version)
{
	struct state_arg *sa = g_new0(struct state_arg, 1);
	int ret;

	sa->data = g_memdup2(data, len);
	sa->len = len;
	sa->old_version = g_strdup(old_version);
	ret = run_job(inst_of(self), "restore_state", job_restore, sa);
	if (ret == -ETIMEDOUT)
		return ret;	/* the job may still read sa */
	g_free(sa->data);
	g_free(sa->old_version);
	g_free(sa);
	return ret;
}

/* -- instances ------------------------------------------------------------------ */

static int inst_open(struct mh_module *mod, char **err)
{
	struct inst *in = g_new0(struct inst, 1);

	(void)err;
	in->mod = mod;
	in->name = g_strdup(mod->meta->name);
	in->file = g_strdup(mod->file);
	in->params = g_hash_table_ref(mod->params);
	in->source = g_strndup(mod->image, mod->image_size);
	in->hcalls = g_ptr_array_new_with_free_func(pycall_free);
	in->ppps = g_ptr_array_new_with_free_func(pycall_free);
	in->exports = g_ptr_array_new_with_free_func(pycall_free);
	in->old_closures = g_ptr_array_new_with_free_func(
		(GDestroyNotify)ffi_closure_free);
	in->imports = g_ptr_array_new();
	g_mutex_init(&in->at_lock);
	in->ats = g_ptr_array_new_with_free_func(g_free);
	in->out = g_string_new(NULL);
	mod->script = in;
	mod->ops = (struct mh_module_ops){
		.size = sizeof(struct mh_module_ops),
		.abi_major = MODHOST_ABI_MAJOR,
		.abi_minor = MODHOST_ABI_MINOR,
		.init = py_init,
		.exit = py_exit,
		.prepare = py_prepare,
		.save_state = py_save_state,
		.restore_state = py_restore_state,
	};
	return 0;
}

static void inst_close(struct mh_module *mod)
{
	struct inst *in = mod->script;
	PyGILState_STATE g;

	mod->script = NULL;
	/* A job left behind may still use it: never freed. */
	if (in->abandoned)
		return;
	in->mod = NULL;
	g = PyGILState_Ensure();
	if (in->out->len) {
		struct inst *prev = cur;

		cur = in;
		say(MH_LOG_INFO, in->out->str);
		cur = prev;
	}
	g_ptr_array_unref(in->hcalls);
	g_ptr_array_unref(in->ppps);
	g_ptr_array_unref(in->exports);
	g_ptr_array_unref(in->old_closures);
	for (guint i = 0; i < in->imports->len; i++) {
		ImportObject *im = g_ptr_array_index(in->imports, i);

		im->fn = NULL;
		Py_DECREF(im);
	}
	g_ptr_array_unref(in->imports);
	Py_XDECREF(in->on_block);
	Py_XDECREF(in->on_insn);
	Py_XDECREF(in->on_mem);
	Py_XDECREF(in->ns);
	PyGILState_Release(g);
	g_ptr_array_unref(in->ats);
	g_mutex_clear(&in->at_lock);
	g_string_free(in->out, TRUE);
	g_free(in->ex_table);
	g_free(in->source);
	g_hash_table_unref(in->params);
	g_free(in->name);
	g_free(in->file);
	g_free(in);
}

static const struct mh_script_engine python_engine = {
	.open = inst_open,
	.close = inst_close,
};

/* -- starting the interpreter -------------------------------------------------------- */

static int interpreter_start(char **err)
{
	PyConfig config;
	PyStatus st;
	PyObject *sys, *out = NULL, *mh, *pickle;
	Dl_info info;

	/*
	 * QEMU opened the host, and the host this engine, with local binding:
	 * libpython's symbols are not global, but the extension modules of
	 * the standard library expect them to be.
	 */
	if (dladdr((void *)Py_InitializeFromConfig, &info) && info.dli_fname)
		dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
	if (PyImport_AppendInittab("modhost", modhost_init)) {
		*err = g_strdup("Python: cannot add the modhost module");
		return -ENOMEM;
	}
	PyConfig_InitPythonConfig(&config);
	/* QEMU's signals stay QEMU's. */
	config.install_signal_handlers = 0;
	config.parse_argv = 0;
	st = PyConfig_SetString(&config, &config.program_name, L"modhost");
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st)) {
		*err = g_strdup_printf("Python did not start: %s",
				       st.err_msg ? st.err_msg : "?");
		return -ENOEXEC;
	}
	mh = PyImport_ImportModule("modhost");
	pickle = PyImport_ImportModule("pickle");
	sys = PyImport_ImportModule("sys");
	if (mh)
		out = PyObject_CallMethod(mh, "_Out", NULL);
	if (pickle) {
		pickle_dumps = PyObject_GetAttrString(pickle, "dumps");
		pickle_loads = PyObject_GetAttrString(pickle, "loads");
	}
	if (!mh || !out || !sys || !pickle_dumps || !pickle_loads ||
	    PyObject_SetAttrString(sys, "stdout", out) ||
	    PyObject_SetAttrString(sys, "stderr", out)) {
		PyErr_Print();
		*err = g_strdup("Python started, but the modhost package did not");
		return -ENOEXEC;
	}
	Py_DECREF(out);
	Py_DECREF(sys);
	Py_DECREF(pickle);
	/* mh stays imported: scripts find it in sys.modules. */
	Py_DECREF(mh);
	/* Every entry takes the GIL for itself from now on. */
	PyEval_SaveThread();
	return 0;
}

ENTRY const struct mh_script_engine *
mh_python_engine(const struct mh_script_host *h, char **err)
{
	host = h;
	api = h->api;
	bound_us = (int64_t)h->hook_timeout() * G_USEC_PER_SEC * 3 / 4;
	if (interpreter_start(err))
		return NULL;
	return &python_engine;
}
