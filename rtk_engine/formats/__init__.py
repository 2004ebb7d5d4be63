"""File and message formats (RINEX, Hatanaka, SP3, CLK, ANTEX, SINEX, RTCM3, NMEA, .pos)."""
