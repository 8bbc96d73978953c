/* N11V2 answer forms under --reading spacing: the manual writes some
 * answers with a space after "+XXX:" and some without, and its format lines
 * and examples disagree (8.1 "+TCPSETUP:0,OK" but "+TCPSETUP: 1,FAIL").
 * Each form records what its format line shows and what its examples show;
 * where a format line does not show the form, the nearest one that does
 * (the sibling command's, or the same command's other lines) stands in, and
 * where examples of one form disagree, "example" takes the one without the
 * space (a space only where every example has one). The table in
 * docs/simulator.md lists the same rows. */
#include "n11v2.h"

static const struct {
	bool format, example;   /* a space after the colon */
} forms[N11_FORMS] = {
	[F_TCPSETUP_OK] = { true, false },    /* 11.1 format / "+TCPSETUP:0,OK" */
	[F_TCPSETUP_FAIL] = { true, true },   /* "+TCPSETUP: 1,FAIL" */
	[F_TCPSETUP_ERR] = { true, false },   /* "+TCPSETUP:0,ERROR1", "+TCPSETUP:ERROR" */
	[F_UDPSETUP_RES] = { true, true },    /* "+UDPSETUP: 1,OK", "+UDPSETUP: 1,FAIL" */
	[F_UDPSETUP_ERR] = { true, true },    /* "+UDPSETUP: ERROR" */
	[F_TCPSEND_OK] = { true, false },     /* "+TCPSEND:0,1024" and "+TCPSEND: 0,10" */
	[F_UDPSEND_OK] = { true, true },      /* "+UDPSSEND: 0,1024" */
	[F_TCPSEND_ERR] = { true, true },     /* "+TCPSEND: DATA LENGTH ERROR" */
	[F_UDPSEND_ERR] = { true, false },    /* "+UDPSSEND:DATA LENGTH ERROR" */
	[F_SEND_BUF] = { false, false },      /* "+TCPSEND:BUFFER NOT ENOUGH,<m>" */
	[F_TCPRECV_DATA] = { false, false },  /* "+TCPRECV:<n>,..." and "+TCPRECV: 0,10,..." */
	[F_TCPRECV_ANN] = { false, true },    /* 8.11 "+TCPRECV: 0" */
	[F_UDPRECV] = { true, true },         /* "+UDPRECV: <n>,<length>[,<data>]" */
	[F_TCPREAD] = { false, false },       /* "+TCPREAD:0,10,1234567890" */
	[F_UDPREAD] = { true, true },         /* "+ UDPREAD: <n>", "+UDPREAD: 0,10,..." */
	[F_TCPCLOSE] = { false, false },      /* "+TCPCLOSE:1,OK", "+TCPCLOSE:0,Link Closed" */
	[F_UDPCLOSE_OK] = { true, true },     /* "+UDPCLOSE: 1,OK" */
	[F_UDPCLOSE_ERR] = { false, false },  /* "+UDPCLOSE:ERROR" */
	[F_IPSTATUS] = { true, false },       /* "+IPSTATUS: 0,CONNECT,..." and "+IPSTATUS:1,DISCONNECT" */
	[F_IPSTATUS_ERR] = { true, true },    /* "+IPSTATUS: ERROR" */
	[F_TCPACK] = { true, false },         /* "+TCPACK: 0,20,20" and "+TCPACK:0,128,120" */
	[F_TCPACK_DISC] = { true, false },    /* "+TCPACK:1,DISCONNECT" */
	[F_TCPACK_NOTCP] = { true, true },    /* "+TCPACK: NO TCP LINK" */
	[F_TRANS_RES] = { true, false },      /* "+TCPTRANS:OK", "+TCPTRANS:FAIL" */
	[F_TRANS_ERR] = { true, true },       /* "+TCPTRANS: ERROR" */
	[F_TRANS_CLOSED] = { true, false },   /* "+TCPTRANS:Link Closed" */
	[F_TRANSCLOSE] = { true, true },      /* "+TRANSCLOSE: 0,OK" */
	[F_TCPLISTEN] = { false, true },      /* 13.1 "+TCPLISTEN:<socket>,OK" / "+TCPLISTEN: 0,OK" */
	[F_TCPLISTEN_BIND] = { true, true },  /* "+TCPLISTEN: bind error" */
	[F_CLOSELISTEN] = { false, true },    /* 13.2 "+CLOSELISTEN:<socket_id>,..." / "+CLOSELISTEN: 0,..." */
	[F_CLOSECLIENT] = { true, true },     /* 13.3 "+CLOSECLIENT: 1,remote link closed" */
	[F_TCPRECVS] = { true, true },        /* 13.4 "+TCPRECV(S): 1,10,1234567899" */
	[F_TCPSENDS_OK] = { false, true },    /* 13.5 "+TCPSENDS:<socket>[,<length>]" / "+TCPSENDS: 1,1024" */
	[F_TCPSENDS_ERR] = { true, true },    /* "+TCPSENDS: 0 is not link", "+TCPSENDS: ERROR" */
	[F_TCPACKS] = { true, true },         /* 13.6 "+TCPACKS: 0,20,20", "+TCPACKS: 1,DISCONNECT" */
};

const char *n11_sp(enum n11_form f)
{
	switch (RD.spacing) {
	case SPACING_NONE: return "";
	case SPACING_FORMAT: return forms[f].format ? " " : "";
	case SPACING_EXAMPLE: return forms[f].example ? " " : "";
	default: return " ";
	}
}
