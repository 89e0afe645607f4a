# Expected wait: what each (group, channel) queue learns (see ewt.pyx).

ctypedef struct QStat:        # pyroute/_ewt.py's record of one queue, field for field
    double last               # when the queue last changed
    double pm                 # online members x non-empty seconds since the last service start
    double pa                 # waiting x seconds since the last departure
    double n                  # service starts, decayed
    double mw                 # member-seconds behind them, decayed
    double a                  # departures without service, decayed
    double s                  # waiting seconds behind all departures, decayed
    double kmax               # the largest (k, seq) pushed since the queue was last empty:
    int64_t smax              #   a newcomer at or above it is at the back (native only)
    int64_t len               # entries in the queue (its heap and sub-heaps; native only)
