/* test_softmax.c - softmax and log-softmax at the extremes. */
#include "check.h"
#include "calib.h"

int main(void)
{
    double z[4] = {1e4, 1e4, 1e4, -1e4}, p[4], lp[4];
    double t[3] = {2.385, -0.75, 0.125}, pt[3], lpt[3];

    calib_log_softmax(z, 2, 2, lp);
    CHECK(lp[0] == -0.69314718055994531 && lp[1] == lp[0]);
    CHECK(lp[2] == 0.0 && lp[3] == -2e4);
    calib_softmax(z, 2, 2, p);
    CHECK(p[0] == 0.5 && p[1] == 0.5 && p[2] == 1.0 && p[3] == 0.0);

    /* against the definition on ordinary values */
    calib_softmax(t, 1, 3, pt);
    calib_log_softmax(t, 1, 3, lpt);
    double s = exp(2.385) + exp(-0.75) + exp(0.125);
    for (int j = 0; j < 3; j++) {
        CHECK_NEAR(pt[j], exp(t[j]) / s, 1e-15);
        CHECK_NEAR(lpt[j], t[j] - log(s), 1e-15);
    }
    CHECK_NEAR(calib_sigmoid(-800.0), 0.0, 1e-300);
    CHECK(calib_sigmoid(800.0) == 1.0);
    CHECK_NEAR(calib_log1pexp(800.0), 800.0, 0.0);
    CHECK_NEAR(calib_log1pexp(-800.0), 0.0, 1e-300);
    CHECK_NEAR(calib_log1pexp(0.0), log(2.0), 1e-16);
    return check_done("test_softmax");
}
