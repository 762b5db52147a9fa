/* SpanDSP 0.0.6's own receivers over a WAV, for side-by-side CPU and detection counts with
 * `e911 detect --kinds mf,dtmf` (issue 18). Reads a 16-bit PCM 8 kHz WAV (plain or
 * WAVE_FORMAT_EXTENSIBLE), runs bell_mf_rx and dtmf_rx on every channel block by block, and prints
 * the digits each reported and the process's CPU time. Built by scripts/spandsp-compare against
 * Debian's libspandsp-dev. Usage: harness FILE.wav [--digits]; with --digits it also prints each
 * channel's digits, "CH mf DIGITS" and "CH dtmf DIGITS" (scripts/robustness scores them). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <spandsp.h>

static long mf_digits, dtmf_digits;

/* Each channel's digits, for --digits: [2 * channel] MF, [2 * channel + 1] DTMF. */
static char **said;
static size_t *said_len;

static void keep(long slot, const char *digits, int len)
{
    if (!said)
        return;
    said[slot] = realloc(said[slot], said_len[slot] + len + 1);
    memcpy(said[slot] + said_len[slot], digits, len);
    said_len[slot] += len;
    said[slot][said_len[slot]] = 0;
}

static void on_mf(void *user, const char *digits, int len) { mf_digits += len; keep(2 * (long) (intptr_t) user, digits, len); }
static void on_dtmf(void *user, const char *digits, int len) { dtmf_digits += len; keep(2 * (long) (intptr_t) user + 1, digits, len); }

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t) p[3] << 24; }
static uint16_t le16(const unsigned char *p) { return p[0] | p[1] << 8; }

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 3 && !strcmp(argv[2], "--digits"))) {
        fprintf(stderr, "usage: harness FILE.wav [--digits]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    unsigned char h[12];
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
        fprintf(stderr, "%s: not a WAV file\n", argv[1]);
        return 1;
    }
    int channels = 0;
    long data = -1;
    unsigned char c[8];
    while (fread(c, 1, 8, f) == 8) {
        uint32_t len = le32(c + 4);
        if (!memcmp(c, "fmt ", 4)) {
            unsigned char fmt[64] = {0};
            size_t n = len < sizeof fmt ? len : sizeof fmt;
            if (fread(fmt, 1, n, f) != n) break;
            if (len > n) fseek(f, len - n, SEEK_CUR);
            channels = le16(fmt + 2);
            if (le32(fmt + 4) != 8000 || le16(fmt + 14) != 16) {
                fprintf(stderr, "%s: want 16-bit PCM at 8 kHz\n", argv[1]);
                return 1;
            }
        } else if (!memcmp(c, "data", 4)) {
            data = len;
            break;
        } else {
            fseek(f, len + (len & 1), SEEK_CUR);
        }
    }
    if (channels <= 0 || data < 0) {
        fprintf(stderr, "%s: no fmt or data chunk\n", argv[1]);
        return 1;
    }
    if (argc == 3) {
        said = calloc(2 * channels, sizeof *said);
        said_len = calloc(2 * channels, sizeof *said_len);
    }
    bell_mf_rx_state_t **mf = calloc(channels, sizeof *mf);
    dtmf_rx_state_t **dt = calloc(channels, sizeof *dt);
    for (int i = 0; i < channels; i++) {
        mf[i] = bell_mf_rx_init(NULL, on_mf, (void *) (intptr_t) i);
        dt[i] = dtmf_rx_init(NULL, on_dtmf, (void *) (intptr_t) i);
    }
    enum { BLOCK = 2048 };
    int16_t *in = malloc(sizeof(int16_t) * BLOCK * channels);
    int16_t *one = malloc(sizeof(int16_t) * BLOCK);
    long frames = 0;
    clock_t t0 = clock();
    size_t got;
    while ((got = fread(in, sizeof(int16_t) * channels, BLOCK, f)) > 0) {
        for (int ch = 0; ch < channels; ch++) {
            for (size_t k = 0; k < got; k++)
                one[k] = in[k * channels + ch];
            bell_mf_rx(mf[ch], one, (int) got);
            dtmf_rx(dt[ch], one, (int) got);
        }
        frames += (long) got;
    }
    double cpu = (double) (clock() - t0) / CLOCKS_PER_SEC;
    printf("spandsp: %d channel(s) x %.1f s: %ld MF digits, %ld DTMF digits, %.3f s CPU in the receivers\n",
           channels, frames / 8000.0, mf_digits, dtmf_digits, cpu);
    for (int ch = 0; said && ch < channels; ch++)
        printf("%d mf %s\n%d dtmf %s\n", ch, said[2 * ch] ? said[2 * ch] : "", ch, said[2 * ch + 1] ? said[2 * ch + 1] : "");
    return 0;
}
