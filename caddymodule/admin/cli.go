package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "passgate",
		Usage: "sessions|end|block|unblock <email, +phone or user id> [--store <name>] [--address <admin address>] [--config <path> [--adapter <name>]]",
		Short: "Lists, ends and blocks a passgate user's sessions through the admin API",
		Long: `
Calls passgate's routes on the admin endpoint of a running Caddy:

  caddy passgate sessions alice@example.com   the user and their live sessions
  caddy passgate end alice@example.com        end every session of theirs
  caddy passgate block alice@example.com      no sign-in, every session ended
  caddy passgate unblock alice@example.com    let them sign in again

The user is given by email address, phone number in international form
(+447700900123) or user id. --store names one store (as the answers name
them, e.g. "redis passgate:"); without it, every store of the running
passgate handlers. The admin address is taken from --address, else from
the --config file, else the default (localhost:2019). The answer is
printed as JSON; an error answer is printed as the error, with a
non-zero exit status.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "Configuration file to take the admin address from, if --address is not used")
			cmd.Flags().StringP("adapter", "a", "", "Name of config adapter to apply (when --config is used)")
			cmd.Flags().StringP("address", "", "", "The address of the admin API endpoint, if not the default")
			cmd.Flags().StringP("store", "", "", "Only this store (its name as the answers give it)")
			cmd.Args = cobra.ExactArgs(2)
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				return runCommand(cmd.OutOrStdout(), caddycmd.Flags{FlagSet: cmd.Flags()}, args[0], args[1])
			}
			cmd.SilenceUsage = true
		},
	})
}

// commands are the CLI's verbs: the method and route of each.
var commands = map[string]struct{ method, route string }{
	"sessions": {http.MethodGet, "sessions"},
	"end":      {http.MethodDelete, "sessions"},
	"block":    {http.MethodPost, "block"},
	"unblock":  {http.MethodPost, "unblock"},
}

func runCommand(out io.Writer, fl caddycmd.Flags, verb, identifier string) error {
	c, ok := commands[verb]
	if !ok {
		return fmt.Errorf("unknown command %q: want sessions, end, block or unblock", verb)
	}
	addr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return fmt.Errorf("couldn't determine the admin API address: %v", err)
	}
	uri := "/passgate/users/" + url.PathEscape(identifier) + "/" + c.route
	if s := fl.String("store"); s != "" {
		uri += "?" + url.Values{"store": {s}}.Encode()
	}
	// An error answer comes back as err, with its JSON body.
	resp, err := caddycmd.AdminAPIRequest(addr, c.method, uri, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(body)
	}
	_, err = out.Write(pretty.Bytes())
	return err
}
