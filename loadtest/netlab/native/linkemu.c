/*
 * linkemu: the network lab's packet-level link emulator.
 *
 * Owns one TUN device per lab host and forwards whole IP packets between them. Each packet from
 * host S to host D crosses the ordered list of pipes set by `route S D` (by default S's uplink
 * pipe, then D's downlink pipe). A pipe applies, in this order: UDP blocking, random loss,
 * Gilbert-Elliott bursty loss, a rate limit with a bounded FIFO queue (tail drop), then a one-way
 * delay with jitter (in order, or reordering when allowed). UDP, TCP and QUIC are all just IP
 * packets here.
 *
 * Control: one command per line on stdin, one reply line on stdout ("ok ..." or "err ...").
 *   tun NAME                 create TUN device NAME (kernel pattern like "lab%d" allowed) -> ok <index> <ifname>
 *   addr INDEX A.B.C.D       the host behind TUN INDEX owns this IPv4 address
 *   pipe ID key=value...     create or update pipe ID (0..255); keys below
 *   route SRC DST ID,ID,...  path of packets from host SRC to host DST ("-" = drop everything)
 *   stats                    one JSON line with per-pipe counters and this process's CPU time
 *   quit                     exit
 * Pipe keys: delay_us jitter_us jitter_tau_us(0: independent per packet) reorder(0/1) loss(0..1) ge_p ge_r ge_loss_good ge_loss_bad
 *            rate_bps queue_bytes block_udp(0/1) down(0/1: drop everything)
 * EOF on stdin ends the process: the TUN devices disappear with it.
 *
 * The emulator asks for real-time scheduling (SCHED_FIFO) so that on a busy machine — the lab's
 * browsers, nodes and encoders share its cores — packets leave when their delay says, not when
 * the scheduler next gets to it; the greeting says whether it got it ("rt=fifo" or "rt=none").
 * It sleeps in ppoll between packets, so it never spins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_HOSTS 64
#define MAX_PIPES 256
#define MAX_PATH 6
#define MTU_MAX 65536

typedef struct {
  double delay_us, jitter_us, jitter_tau_us, loss, ge_p, ge_r, ge_loss_good, ge_loss_bad, rate_bps, queue_bytes;
  int reorder, block_udp, down, defined;
  /* state */
  int ge_bad;
  double jitter_from_us, jitter_to_us; /* in-order jitter: knots of the current segment */
  int64_t jitter_at_ns;                 /* and when it started */
  int64_t busy_until_ns;  /* end of serialization of the last queued packet */
  int64_t last_release_ns; /* latest release time handed out (for in-order jitter) */
  /* counters */
  uint64_t pkts_in, bytes_in, pkts_out, bytes_out, drop_loss, drop_queue, drop_udp, drop_down;
  uint64_t max_queue_bytes;
} Pipe;

typedef struct {
  int64_t release_ns;
  uint64_t seq;
  int dst;
  int stage, npath;
  uint8_t path[MAX_PATH];
  int len;
  uint8_t *data;
} Packet;

typedef struct {
  int fd;
  uint32_t addr; /* network order, 0 = none */
  char name[IFNAMSIZ];
} Host;

static Host hosts[MAX_HOSTS];
static int nhosts;
static Pipe pipes[MAX_PIPES];
/* routes[s][d]: npath (0 = default: up pipe 2s, down pipe 2d+1; -1 = drop) */
static int route_len[MAX_HOSTS][MAX_HOSTS];
static uint8_t route_path[MAX_HOSTS][MAX_HOSTS][MAX_PATH];
static uint64_t fwd_unroutable, fwd_written, fwd_write_errors;

static Packet **heap;
static size_t heap_len, heap_cap;
static uint64_t seq_counter;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double rnd(void) { /* xorshift64*, uniform in [0,1) */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int heap_less(const Packet *a, const Packet *b) {
  return a->release_ns < b->release_ns || (a->release_ns == b->release_ns && a->seq < b->seq);
}

static void heap_push(Packet *p) {
  if (heap_len == heap_cap) {
    heap_cap = heap_cap ? heap_cap * 2 : 1024;
    heap = realloc(heap, heap_cap * sizeof *heap);
    if (!heap) { perror("realloc"); exit(1); }
  }
  size_t i = heap_len++;
  heap[i] = p;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!heap_less(heap[i], heap[parent])) break;
    Packet *t = heap[i]; heap[i] = heap[parent]; heap[parent] = t;
    i = parent;
  }
}

static Packet *heap_pop(void) {
  Packet *top = heap[0];
  heap[0] = heap[--heap_len];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_len && heap_less(heap[l], heap[m])) m = l;
    if (r < heap_len && heap_less(heap[r], heap[m])) m = r;
    if (m == i) break;
    Packet *t = heap[i]; heap[i] = heap[m]; heap[m] = t;
    i = m;
  }
  return top;
}

static void free_packet(Packet *p) { free(p->data); free(p); }

/* Gaussian sample (Box-Muller) for jitter. */
static double gauss(void) {
  double u1 = rnd(), u2 = rnd();
  if (u1 < 1e-12) u1 = 1e-12;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Runs packet p through the pipe of its current stage at time t; queues it or frees it. */
static void enter_pipe(Packet *p, int64_t t) {
  Pipe *pp = &pipes[p->path[p->stage]];
  pp->pkts_in++;
  pp->bytes_in += p->len;
  if (pp->down) { pp->drop_down++; free_packet(p); return; }
  if (pp->block_udp && p->len >= 20 && (p->data[0] >> 4) == 4 && p->data[9] == 17) { pp->drop_udp++; free_packet(p); return; }
  if (pp->loss > 0 && rnd() < pp->loss) { pp->drop_loss++; free_packet(p); return; }
  if (pp->ge_p > 0 || pp->ge_bad) {
    /* Gilbert-Elliott: state transition per packet, then loss by the state's loss probability. */
    if (pp->ge_bad) { if (rnd() < pp->ge_r) pp->ge_bad = 0; }
    else if (rnd() < pp->ge_p) pp->ge_bad = 1;
    double l = pp->ge_bad ? pp->ge_loss_bad : pp->ge_loss_good;
    if (l > 0 && rnd() < l) { pp->drop_loss++; free_packet(p); return; }
  }
  int64_t depart = t;
  if (pp->rate_bps > 0) {
    int64_t start = pp->busy_until_ns > t ? pp->busy_until_ns : t;
    double backlog = (double)(start - t) * pp->rate_bps / 8e9; /* bytes waiting ahead of this one */
    if (pp->queue_bytes > 0 && backlog + p->len > pp->queue_bytes) { pp->drop_queue++; free_packet(p); return; }
    if (backlog + p->len > pp->max_queue_bytes) pp->max_queue_bytes = (uint64_t)(backlog + p->len);
    pp->busy_until_ns = start + (int64_t)((double)p->len * 8e9 / pp->rate_bps);
    depart = pp->busy_until_ns;
  }
  double d = pp->delay_us;
  if (pp->jitter_us > 0 && pp->jitter_tau_us > 0) {
    /* In-order jitter: the delay moves linearly between Gaussian knots every jitter_tau_us, so it
     * changes slowly enough that packets rarely need holding back to keep their order. The knots'
     * deviation is scaled by sqrt(3/2) so that the interpolated delay's deviation is jitter_us. */
    int64_t tau_ns = (int64_t)(pp->jitter_tau_us * 1000.0);
    if (pp->jitter_at_ns == 0 || t - pp->jitter_at_ns > 4 * tau_ns) {
      pp->jitter_at_ns = t;
      pp->jitter_from_us = gauss() * pp->jitter_us * 1.2247;
      pp->jitter_to_us = gauss() * pp->jitter_us * 1.2247;
    }
    while (t >= pp->jitter_at_ns + tau_ns) {
      pp->jitter_at_ns += tau_ns;
      pp->jitter_from_us = pp->jitter_to_us;
      pp->jitter_to_us = gauss() * pp->jitter_us * 1.2247;
    }
    double f = (double)(t - pp->jitter_at_ns) / (double)tau_ns;
    d += pp->jitter_from_us + f * (pp->jitter_to_us - pp->jitter_from_us);
  } else if (pp->jitter_us > 0) d += gauss() * pp->jitter_us;
  if (d < 0) d = 0;
  int64_t release = depart + (int64_t)(d * 1000.0);
  if (!pp->reorder && release < pp->last_release_ns) release = pp->last_release_ns;
  if (release > pp->last_release_ns) pp->last_release_ns = release;
  pp->pkts_out++;
  pp->bytes_out += p->len;
  p->release_ns = release;
  p->seq = seq_counter++;
  heap_push(p);
}

static int host_by_addr(uint32_t a) {
  for (int i = 0; i < nhosts; i++) if (hosts[i].addr == a) return i;
  return -1;
}

static void on_packet(int src, uint8_t *buf, int len, int64_t t) {
  if (len < 20 || (buf[0] >> 4) != 4) { fwd_unroutable++; return; } /* IPv4 only */
  uint32_t dst_addr;
  memcpy(&dst_addr, buf + 16, 4);
  int dst = host_by_addr(dst_addr);
  if (dst < 0 || dst == src) { fwd_unroutable++; return; }
  int n = route_len[src][dst];
  if (n < 0) { fwd_unroutable++; return; }
  Packet *p = malloc(sizeof *p);
  if (!p) return;
  p->data = malloc(len);
  if (!p->data) { free(p); return; }
  memcpy(p->data, buf, len);
  p->len = len;
  p->dst = dst;
  p->stage = 0;
  if (n == 0) { p->npath = 2; p->path[0] = (uint8_t)(2 * src); p->path[1] = (uint8_t)(2 * dst + 1); }
  else { p->npath = n; memcpy(p->path, route_path[src][dst], n); }
  enter_pipe(p, t);
}

static void release_due(int64_t t) {
  while (heap_len > 0 && heap[0]->release_ns <= t) {
    Packet *p = heap_pop();
    if (++p->stage < p->npath) { enter_pipe(p, p->release_ns); continue; }
    if (write(hosts[p->dst].fd, p->data, p->len) < 0) fwd_write_errors++; else fwd_written++;
    free_packet(p);
  }
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static int open_tun(const char *name, char *out_name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { int e = errno; close(fd); errno = e; return -1; }
  strncpy(out_name, ifr.ifr_name, IFNAMSIZ);
  return fd;
}

static int set_pipe_key(Pipe *pp, const char *key, double v) {
  if (!strcmp(key, "delay_us")) pp->delay_us = v;
  else if (!strcmp(key, "jitter_us")) pp->jitter_us = v;
  else if (!strcmp(key, "jitter_tau_us")) pp->jitter_tau_us = v;
  else if (!strcmp(key, "reorder")) pp->reorder = v != 0;
  else if (!strcmp(key, "loss")) pp->loss = v;
  else if (!strcmp(key, "ge_p")) pp->ge_p = v;
  else if (!strcmp(key, "ge_r")) pp->ge_r = v;
  else if (!strcmp(key, "ge_loss_good")) pp->ge_loss_good = v;
  else if (!strcmp(key, "ge_loss_bad")) pp->ge_loss_bad = v;
  else if (!strcmp(key, "rate_bps")) pp->rate_bps = v;
  else if (!strcmp(key, "queue_bytes")) pp->queue_bytes = v;
  else if (!strcmp(key, "block_udp")) pp->block_udp = v != 0;
  else if (!strcmp(key, "down")) pp->down = v != 0;
  else return -1;
  return 0;
}

static void print_stats(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("ok {\"cpuSeconds\":%.6f,\"written\":%llu,\"unroutable\":%llu,\"writeErrors\":%llu,\"inFlight\":%zu,\"pipes\":{",
         cpu, (unsigned long long)fwd_written, (unsigned long long)fwd_unroutable, (unsigned long long)fwd_write_errors, heap_len);
  int first = 1;
  for (int i = 0; i < MAX_PIPES; i++) {
    Pipe *p = &pipes[i];
    if (!p->pkts_in && !p->defined) continue;
    printf("%s\"%d\":{\"pktsIn\":%llu,\"bytesIn\":%llu,\"pktsOut\":%llu,\"bytesOut\":%llu,\"dropLoss\":%llu,\"dropQueue\":%llu,\"dropUdp\":%llu,\"dropDown\":%llu,\"maxQueueBytes\":%llu}",
           first ? "" : ",", i, (unsigned long long)p->pkts_in, (unsigned long long)p->bytes_in, (unsigned long long)p->pkts_out,
           (unsigned long long)p->bytes_out, (unsigned long long)p->drop_loss, (unsigned long long)p->drop_queue,
           (unsigned long long)p->drop_udp, (unsigned long long)p->drop_down, (unsigned long long)p->max_queue_bytes);
    first = 0;
  }
  printf("}}\n");
  fflush(stdout);
}

/* Parses and runs one control line. Returns 0 to go on, 1 to quit. */
static int command(char *line) {
  char *save = NULL;
  char *cmd = strtok_r(line, " \t\r\n", &save);
  if (!cmd) return 0;
  if (!strcmp(cmd, "quit")) { reply("ok bye"); return 1; }
  if (!strcmp(cmd, "stats")) { print_stats(); return 0; }
  if (!strcmp(cmd, "tun")) {
    char *name = strtok_r(NULL, " \t\r\n", &save);
    if (!name || strlen(name) >= IFNAMSIZ) { reply("err tun needs a name shorter than %d characters", IFNAMSIZ); return 0; }
    if (nhosts >= MAX_HOSTS) { reply("err at most %d hosts", MAX_HOSTS); return 0; }
    char ifname[IFNAMSIZ];
    int fd = open_tun(name, ifname);
    if (fd < 0) { reply("err tun %s: %s", name, strerror(errno)); return 0; }
    hosts[nhosts].fd = fd;
    hosts[nhosts].addr = 0;
    strncpy(hosts[nhosts].name, ifname, IFNAMSIZ);
    reply("ok %d %s", nhosts, ifname);
    nhosts++;
    return 0;
  }
  if (!strcmp(cmd, "addr")) {
    char *idx = strtok_r(NULL, " \t\r\n", &save), *ip = strtok_r(NULL, " \t\r\n", &save);
    struct in_addr a;
    if (!idx || !ip || atoi(idx) < 0 || atoi(idx) >= nhosts || inet_pton(AF_INET, ip, &a) != 1) { reply("err usage: addr INDEX A.B.C.D"); return 0; }
    hosts[atoi(idx)].addr = a.s_addr;
    reply("ok");
    return 0;
  }
  if (!strcmp(cmd, "pipe")) {
    char *id = strtok_r(NULL, " \t\r\n", &save);
    int n = id ? atoi(id) : -1;
    if (n < 0 || n >= MAX_PIPES) { reply("err usage: pipe ID(0..%d) key=value...", MAX_PIPES - 1); return 0; }
    Pipe next = pipes[n];
    char *kv;
    while ((kv = strtok_r(NULL, " \t\r\n", &save))) {
      char *eq = strchr(kv, '=');
      if (!eq) { reply("err pipe %d: %s is not key=value", n, kv); return 0; }
      *eq = 0;
      char *end;
      double v = strtod(eq + 1, &end);
      if (*end || !isfinite(v) || v < 0) { reply("err pipe %d: %s needs a finite number >= 0", n, kv); return 0; }
      if (set_pipe_key(&next, kv, v) < 0) { reply("err pipe %d: unknown key %s", n, kv); return 0; }
    }
    if (next.loss > 1 || next.ge_p > 1 || next.ge_r > 1 || next.ge_loss_good > 1 || next.ge_loss_bad > 1) { reply("err pipe %d: probabilities are 0..1", n); return 0; }
    next.defined = 1;
    pipes[n] = next;
    reply("ok");
    return 0;
  }
  if (!strcmp(cmd, "route")) {
    char *s = strtok_r(NULL, " \t\r\n", &save), *d = strtok_r(NULL, " \t\r\n", &save), *list = strtok_r(NULL, " \t\r\n", &save);
    int src = s ? atoi(s) : -1, dst = d ? atoi(d) : -1;
    if (src < 0 || src >= nhosts || dst < 0 || dst >= nhosts || !list) { reply("err usage: route SRC DST ID,ID,... | -"); return 0; }
    if (!strcmp(list, "-")) { route_len[src][dst] = -1; reply("ok"); return 0; }
    int n = 0;
    char *save2 = NULL;
    for (char *t = strtok_r(list, ",", &save2); t; t = strtok_r(NULL, ",", &save2)) {
      int id = atoi(t);
      if (n >= MAX_PATH || id < 0 || id >= MAX_PIPES) { reply("err route: at most %d pipes with ids 0..%d", MAX_PATH, MAX_PIPES - 1); return 0; }
      route_path[src][dst][n++] = (uint8_t)id;
    }
    route_len[src][dst] = n;
    reply("ok");
    return 0;
  }
  reply("err unknown command %s", cmd);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1) rng_state ^= strtoull(argv[1], NULL, 10) * 0x2545F4914F6CDD1DULL;
  else rng_state ^= (uint64_t)now_ns();
  if (!rng_state) rng_state = 1;
  static uint8_t buf[MTU_MAX];
  static char line[8192];
  size_t line_len = 0;
  struct pollfd pfds[MAX_HOSTS + 1];
  struct sched_param rt = {.sched_priority = 20};
  int realtime = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
  reply("ok linkemu ready rt=%s", realtime ? "fifo" : "none");
  for (;;) {
    int64_t t = now_ns();
    release_due(t);
    struct timespec timeout, *tp = NULL;
    if (heap_len > 0) {
      int64_t wait = heap[0]->release_ns - now_ns();
      if (wait < 0) wait = 0;
      timeout.tv_sec = wait / 1000000000LL;
      timeout.tv_nsec = wait % 1000000000LL;
      tp = &timeout;
    }
    pfds[0].fd = 0;
    pfds[0].events = POLLIN;
    for (int i = 0; i < nhosts; i++) { pfds[i + 1].fd = hosts[i].fd; pfds[i + 1].events = POLLIN; }
    int n = ppoll(pfds, nhosts + 1, tp, NULL);
    if (n < 0) { if (errno == EINTR) continue; perror("ppoll"); return 1; }
    if (n == 0) continue;
    t = now_ns();
    for (int i = 0; i < nhosts; i++) {
      if (!(pfds[i + 1].revents & POLLIN)) continue;
      for (int k = 0; k < 256; k++) { /* bounded burst per host keeps hosts fair */
        ssize_t r = read(hosts[i].fd, buf, sizeof buf);
        if (r <= 0) break;
        on_packet(i, buf, (int)r, t);
      }
    }
    if (pfds[0].revents & (POLLIN | POLLHUP)) {
      ssize_t r = read(0, line + line_len, sizeof line - 1 - line_len);
      if (r <= 0) return 0; /* EOF: the owner is gone */
      line_len += r;
      line[line_len] = 0;
      char *start = line, *nl;
      while ((nl = strchr(start, '\n'))) {
        *nl = 0;
        if (command(start)) return 0;
        start = nl + 1;
      }
      line_len = strlen(start);
      memmove(line, start, line_len + 1);
      if (line_len >= sizeof line - 1) { reply("err line too long"); line_len = 0; }
    }
  }
}
