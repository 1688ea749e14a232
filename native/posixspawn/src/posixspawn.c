// Starts a child process with glibc's posix_spawn (clone with CLONE_VM | CLONE_VFORK: the child
// shares the parent's memory until it execs, so nothing is copied) instead of libuv's fork(),
// which copies the page tables of the whole Node process on its event loop: 20-100 ms at
// 300-660 MB RSS (docs/ARCHITECTURE.md "What a spawn costs the server"). The parent's ends of
// the child's pipes are returned as fds for Node to wrap; each child is reaped by a small thread
// of its own blocked in waitpid() on that pid only (libuv reaps only the pids it spawned), which
// reports the exit to JavaScript through a thread-safe function and ends.
// Called from Node's main thread only (the child's parent-death signal, set by ffmpeg-guard.sh,
// follows the thread that spawned it).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>

/** Capacity of a child's stdout pipe, and of its stdin where 2 MiB is refused (F_SETPIPE_SZ). */
#define PIPE_BYTES (1 << 20)
/** Capacity asked for a child's stdin: a whole 720p canvas (1,382,400 bytes) in one write. */
#define STDIN_PIPE_BYTES (2 << 20)

extern char **environ;

typedef struct {
  pid_t pid;
  napi_threadsafe_function tsfn;
} waiter_t;

typedef struct {
  int code;    // exit code, or -1 when killed by a signal
  int signal;  // signal number, or 0
} exit_t;

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  exit_t *e = (exit_t *)data;
  if (env != NULL && cb != NULL) {
    napi_value argv[2], undefined;
    napi_create_int32(env, e->code, &argv[0]);
    napi_create_int32(env, e->signal, &argv[1]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, cb, 2, argv, NULL);
  }
  free(e);
}

static void *wait_child(void *arg) {
  waiter_t *w = (waiter_t *)arg;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(w->pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  exit_t *e = (exit_t *)malloc(sizeof(exit_t));
  if (e) {
    if (r < 0) {
      e->code = -1;  // not ours to reap (cannot happen: the pid is only ever waited for here)
      e->signal = 0;
    } else if (WIFSIGNALED(status)) {
      e->code = -1;
      e->signal = WTERMSIG(status);
    } else {
      e->code = WEXITSTATUS(status);
      e->signal = 0;
    }
    napi_call_threadsafe_function(w->tsfn, e, napi_tsfn_blocking);
  }
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  free(w);
  return NULL;
}

static char *get_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = (char *)malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

// A NULL-terminated copy of a JS array of strings (NULL on a bad argument).
static char **get_strings(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **out = (char **)calloc(n + 1, sizeof(char *));
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, arr, i, &v);
    out[i] = get_string(env, v);
    if (!out[i]) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

static void free_strings(char **s) {
  if (!s) return;
  for (char **p = s; *p; p++) free(*p);
  free(s);
}

static void set_int(napi_env env, napi_value obj, const char *key, int v) {
  napi_value n;
  napi_create_int32(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  napi_value msg, code, error;
  char buf[256];
  snprintf(buf, sizeof buf, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : "ESPAWN", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_throw(env, error);
  return NULL;
}

// spawn(file, argv, envp, pipeStdin, pipeStdout, onExit(code, signal))
//   → { pid, stdin, stdout, stderr }: the parent's pipe ends (-1 where none; stdin and stdout
//   without a pipe are /dev/null). Throws (code ENOENT, EACCES, ESPAWN) when it cannot start.
static napi_value spawn_child(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "spawn(file, argv, envp, pipeStdin, pipeStdout, onExit)");
    return NULL;
  }
  bool want_in = false, want_out = false;
  napi_get_value_bool(env, args[3], &want_in);
  napi_get_value_bool(env, args[4], &want_out);
  char *file = get_string(env, args[0]);
  char **argv = get_strings(env, args[1]);
  char **envp = get_strings(env, args[2]);
  if (!file || !argv || !envp) {
    free(file);
    free_strings(argv);
    free_strings(envp);
    napi_throw_type_error(env, NULL, "spawn: file must be a string, argv and envp arrays of strings");
    return NULL;
  }

  // [0] read end, [1] write end; all close-on-exec, so the child keeps only what is dup2'd.
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int rc = 0;
  const char *what = "pipe2";
  if ((want_in && pipe2(in, O_CLOEXEC) != 0) || (want_out && pipe2(out, O_CLOEXEC) != 0) || pipe2(err, O_CLOEXEC) != 0) rc = errno;
  // A decoder writes raw pictures (345,600 bytes at 640x360) on stdout. In a 64 KiB pipe each one
  // takes six write → wake the reader → read → wake the writer rounds, and on a busy box every
  // wake-up waits for a core: a whole picture fits in a 1 MiB pipe (fs.pipe-max-size's default;
  // pages are only taken as data is written). The compositor reads its 1,382,400-byte canvas on
  // stdin: in a 2 MiB pipe one write, in 1 MiB two (above fs.pipe-max-size only a privileged
  // process may go), through a unix socket's ~208 KB seven, each waiting on the event loop. Best
  // effort: a smaller pipe still works.
  if (rc == 0 && want_out) (void)fcntl(out[0], F_SETPIPE_SZ, PIPE_BYTES);
  if (rc == 0 && want_in && fcntl(in[1], F_SETPIPE_SZ, STDIN_PIPE_BYTES) < 0) (void)fcntl(in[1], F_SETPIPE_SZ, PIPE_BYTES);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  pid_t pid = -1;
  if (rc == 0) {
    posix_spawn_file_actions_init(&fa);
    if (want_in) posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (want_out) posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    else posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    // Nothing else of Node's leaks into the child, close-on-exec or not.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);

    // Signals as a fresh process has them: Node ignores SIGPIPE and handles others; an exec
    // keeps ignored ones ignored, so every signal goes back to its default, none blocked.
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    what = "posix_spawnp";
    rc = posix_spawnp(&pid, file, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }
  // The child's ends are the child's now (or nobody's, on failure).
  if (in[0] >= 0) close(in[0]);
  if (out[1] >= 0) close(out[1]);
  if (err[1] >= 0) close(err[1]);
  free(file);
  free_strings(argv);
  free_strings(envp);
  if (rc != 0) {
    if (in[1] >= 0) close(in[1]);
    if (out[0] >= 0) close(out[0]);
    if (err[0] >= 0) close(err[0]);
    return throw_errno(env, what, rc);
  }

  waiter_t *w = (waiter_t *)calloc(1, sizeof(waiter_t));
  napi_value name;
  napi_create_string_utf8(env, "posixspawn.exit", NAPI_AUTO_LENGTH, &name);
  pthread_attr_t ta;
  pthread_t thread;
  int trc = -1;
  if (w && napi_create_threadsafe_function(env, args[5], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &w->tsfn) == napi_ok) {
    w->pid = pid;
    pthread_attr_init(&ta);
    pthread_attr_setstacksize(&ta, 64 * 1024);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    trc = pthread_create(&thread, &ta, wait_child, w);
    pthread_attr_destroy(&ta);
    if (trc != 0) napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
  }
  if (trc != 0) {
    // No reaper: kill and reap it here rather than leave a zombie nobody waits for.
    free(w);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (in[1] >= 0) close(in[1]);
    if (out[0] >= 0) close(out[0]);
    close(err[0]);
    return throw_errno(env, "pthread_create", trc > 0 ? trc : EAGAIN);
  }

  napi_value res;
  napi_create_object(env, &res);
  set_int(env, res, "pid", pid);
  set_int(env, res, "stdin", in[1]);
  set_int(env, res, "stdout", out[0]);
  set_int(env, res, "stderr", err[0]);
  return res;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spawn", NULL, spawn_child, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
