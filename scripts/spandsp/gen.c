/* Test signals made by SpanDSP 0.0.6's own generators, as its test programs make them, written as
 * 16-bit PCM 8 kHz mono WAV: a path independent of e911's synthesiser (issue 28). Built and run
 * by scripts/robustness; the committed fixtures in audio-fixtures/spandsp/ came from it.
 *
 *   gen sigtone OUT.wav NOISE_DBM0   sig_tone_tests.c's sequence test, 2600 Hz: tone on, 100 ms
 *                                    seize, nine 33 ms bursts 67 ms apart, 600 ms of tone; its
 *                                    awgn at NOISE_DBM0 passed through (-99: none); mu-law munge.
 *                                    Prints each change as "on|off SAMPLE" on stdout.
 *   gen dialtone OUT.wav J LAW       dtmf_rx_tests.c's dial-tone test at one level: the 16 keys at
 *                                    -15 dBm0 per tone, 50 ms on / 50 ms off (tone_gen), ten
 *                                    times, under continuous 350 + 440 Hz at J dBm0 per tone;
 *                                    LAW: none, alaw or ulaw (codec_munge). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spandsp.h>

#define MS(ms) ((ms) * 8)

static void put16(FILE *f, unsigned v) { fputc(v & 0xff, f); fputc(v >> 8 & 0xff, f); }
static void put32(FILE *f, uint32_t v) { put16(f, v & 0xffff); put16(f, v >> 16); }

static int write_wav(const char *path, const int16_t *x, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    fwrite("RIFF", 1, 4, f);
    put32(f, 36 + 2 * n);
    fwrite("WAVEfmt ", 1, 8, f);
    put32(f, 16);
    put16(f, 1);
    put16(f, 1);
    put32(f, 8000);
    put32(f, 16000);
    put16(f, 2);
    put16(f, 16);
    fwrite("data", 1, 4, f);
    put32(f, 2 * n);
    for (long i = 0; i < n; i++)
        put16(f, (uint16_t) x[i]);
    return fclose(f) != 0;
}

/* codec_munge (SpanDSP's test utilities, not in Debian's library): a G.711 round trip with
 * SpanDSP's own coder. */
enum { NONE, ALAW, ULAW };
static void munge(int codec, int16_t *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = codec == ALAW ? alaw_to_linear(linear_to_alaw(x[i]))
             : codec == ULAW ? ulaw_to_linear(linear_to_ulaw(x[i])) : x[i];
}

/* The 2600 Hz pattern of sig_tone_tests.c's tx_handler: ms, tone on. */
static const int pattern[][2] = {
    {33, 1}, {67, 0}, {33, 1}, {67, 0}, {33, 1}, {67, 0}, {33, 1}, {67, 0}, {33, 1}, {67, 0},
    {33, 1}, {67, 0}, {33, 1}, {67, 0}, {33, 1}, {67, 0}, {33, 1}, {67, 0}, {600, 1}, {0, 0}};
static sig_tone_tx_state_t *tx;
static int section;
static long sampleno;
static int tone_now = 1;

static void tx_handler(void *user, int what, int level, int duration)
{
    (void) level;
    (void) duration;
    (void) user;
    sig_tone_tx_state_t *s = tx;
    if (!(what & SIG_TONE_TX_UPDATE_REQUEST) || !pattern[section][0])
        return;
    int on = pattern[section][1];
    /* PASSTHROUGH: the noise stays on the line all along (the test itself drops it after the seize). */
    sig_tone_tx_set_mode(s, (on ? SIG_TONE_1_PRESENT : 0) | SIG_TONE_TX_PASSTHROUGH,
                         MS(pattern[section][0]));
    if (on != tone_now)
        printf("%s %ld\n", on ? "on" : "off", sampleno);
    tone_now = on;
    section++;
}

static int sigtone(const char *out, float noise_dbm0)
{
    enum { CHUNK = 160 };
    tx = sig_tone_tx_init(NULL, SIG_TONE_2600HZ, tx_handler, NULL);
    awgn_state_t *noise = awgn_init_dbm0(NULL, 1234567, noise_dbm0);
    sig_tone_tx_set_mode(tx, SIG_TONE_1_PRESENT | SIG_TONE_TX_PASSTHROUGH, 0);
    long total = 24000;
    int16_t *x = calloc(total, sizeof *x);
    printf("on 0\n");
    for (sampleno = 0; sampleno < total; sampleno += CHUNK) {
        int16_t amp[CHUNK];
        if (sampleno == 800) {
            /* The 100 ms seize. */
            sig_tone_tx_set_mode(tx, SIG_TONE_TX_PASSTHROUGH, MS(100));
            printf("off %ld\n", sampleno);
            tone_now = 0;
        }
        for (int i = 0; i < CHUNK; i++)
            amp[i] = noise_dbm0 > -90 ? awgn(noise) : 0;
        /* The handler runs inside sig_tone_tx; its changes take effect at the chunk's sample it
         * is called for, which sig_tone_tx reports through the state it keeps: we step one
         * sample at a time so `sampleno` names it. */
        for (int i = 0; i < CHUNK; i++) {
            long keep = sampleno;
            sampleno = keep + i;
            sig_tone_tx(tx, amp + i, 1);
            sampleno = keep;
        }
        munge(ULAW, amp, CHUNK);
        memcpy(x + sampleno, amp, sizeof amp);
    }
    return write_wav(out, x, total);
}

static int dialtone(const char *out, int j, const char *law)
{
    static const char *keys = "123A456B789C*0#D";
    static const float row[4] = {697, 770, 852, 941}, col[4] = {1209, 1336, 1477, 1633};
    tone_gen_descriptor_t *key_desc[16], *dial_desc;
    tone_gen_state_t *dial;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            key_desc[r * 4 + c] = tone_gen_descriptor_init(NULL, row[r], -15, col[c], -15, 50, 50, 0, 0, false);
    dial_desc = tone_gen_descriptor_init(NULL, 350, j, 440, j, 1, 0, 0, 0, true);
    dial = tone_gen_init(NULL, dial_desc);
    int codec = !strcmp(law, "alaw") ? ALAW : !strcmp(law, "ulaw") ? ULAW : NONE;
    long total = 0, cap = 8000 * 20;
    int16_t *x = calloc(cap, sizeof *x);
    int16_t amp[1000 * 16], amp2[1000 * 16];
    for (int rep = 0; rep < 10; rep++) {
        int len = 0;
        for (const char *k = keys; *k; k++) {
            tone_gen_state_t *t = tone_gen_init(NULL, key_desc[strchr(keys, *k) - keys]);
            len += tone_gen(t, amp + len, 1000);
            tone_gen_free(t);
        }
        tone_gen(dial, amp2, len);
        for (int i = 0; i < len; i++)
            amp[i] = saturate16((int32_t) amp[i] + amp2[i]);
        munge(codec, amp, len);
        memcpy(x + total, amp, len * sizeof *amp);
        total += len;
    }
    return write_wav(out, x, total);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "sigtone"))
        return sigtone(argv[2], atof(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "dialtone"))
        return dialtone(argv[2], atoi(argv[3]), argv[4]);
    fprintf(stderr, "usage: gen sigtone OUT.wav NOISE_DBM0 | gen dialtone OUT.wav J none|alaw|ulaw\n");
    return 2;
}
