//! The `Examples:` section of each command's `--help`, as kubectl and helm have.

pub const UP: &str = "\
Examples:
  # Everything, from the local parameters to a running deployment
  kube-openstack up

  # Parameters from a Heat stack, created first when missing
  kube-openstack up --source heat --stack openstack --create-stack

  # What each step would do, changing nothing
  kube-openstack up --dry-run

  # Continue after a failure, from the step that failed
  kube-openstack up --from deploy";

pub const PARAMS: &str = "\
Examples:
  # Every parameter with its source, secrets masked
  kube-openstack params show

  # One value, raw, for a script
  kube-openstack params get keystone_db_password

  # Read the Heat stack's outputs again and see what changed
  kube-openstack params refresh --source heat --stack openstack

  # Rotate one generated password
  kube-openstack params regenerate keystone_db_password";

pub const RENDER: &str = "\
Examples:
  # kubernetes-in/ into kubernetes/, with the local parameters
  kube-openstack render

  # Override one parameter, print instead of writing
  kube-openstack render -p keystone_host=keystone.example --stdout

  # Templates from a URL
  kube-openstack render --input-dir https://example.com/tree.tar.gz

  # Parameters from a YAML or JSON file
  kube-openstack render --source file --params-file params.yaml";

pub const DIFF: &str = "\
Examples:
  # What a render would change in kubernetes/
  kube-openstack diff

  # Against the live cluster (server-side dry run)
  kube-openstack diff --live -n openstack

  # As JSON, for a script
  kube-openstack diff -o json";

pub const IMAGES: &str = "\
Examples:
  # Build and push every image whose content the registry does not have
  kube-openstack images

  # Only keystone (and its bases), to another registry
  kube-openstack images keystone --registry registry.example:5000

  # Build now, push later
  kube-openstack images build && kube-openstack images push

  # What docker/ defines and what the registry holds
  kube-openstack images list -o json";

pub const DEPLOY: &str = "\
Examples:
  # The rendered tree, in dependency order, waiting where needed
  kube-openstack deploy

  # What would change, writing nothing
  kube-openstack deploy --dry-run

  # Another cluster and namespace; remove objects no longer in the tree
  kube-openstack deploy --context prod -n openstack --prune

  # The dependency graph, as Graphviz
  kube-openstack deploy --graph dot | dot -Tsvg > graph.svg";

pub const DB_SYNC: &str = "\
Examples:
  # Rerun the database migrations of keystone and nova
  kube-openstack db-sync keystone nova

  # Every db-sync pod of the tree
  kube-openstack db-sync --all";

pub const VERIFY: &str = "\
Examples:
  # Check every service of the deployment (the last step of `up` too)
  kube-openstack verify

  # One JSON event per check, then a summary
  kube-openstack verify -o json";

pub const STATUS: &str = "\
Examples:
  # Every object of the deployment, ready or not
  kube-openstack status

  # As JSON, for a script (exit 0 only when all are ready)
  kube-openstack status -o json";

pub const CLEAN_JOBS: &str = "\
Examples:
  # Delete the one-shot pods that succeeded
  kube-openstack clean-jobs

  # Also the failed ones, after reading their logs
  kube-openstack clean-jobs --all";

pub const TEARDOWN: &str = "\
Examples:
  # What would be deleted
  kube-openstack teardown --dry-run

  # Delete the deployment without asking
  kube-openstack teardown --yes";

pub const STACK: &str = "\
Examples:
  # Create the stack from heat/heat-setup.yaml and wait for it
  kube-openstack stack create --stack openstack --wait

  # Its status and outputs, secrets masked
  kube-openstack stack show --stack openstack

  # Delete it
  kube-openstack stack delete --stack openstack --wait";

pub const LOGIN: &str = "\
Examples:
  # Ask for the password of a clouds.yaml cloud and keep it in the keyring
  kube-openstack login --os-cloud mycloud

  # From a script
  kube-openstack login --os-cloud mycloud --password-stdin < password.txt";

pub const LOGOUT: &str = "\
Examples:
  kube-openstack logout --os-cloud mycloud";

pub const USERDATA: &str = "\
Examples:
  # A cloud-config and a script, for `openstack server create --user-data`
  kube-openstack userdata cloud-config.yaml setup.sh --output user-data

  # The rendered tree, applied on the server by `kube-openstack watch`
  kube-openstack userdata --from-rendered --with-handler --gzip \\
    --output user-data";

pub const WATCH: &str = "\
Examples:
  # Apply whatever is dropped into the directory, until stopped
  kube-openstack watch /var/lib/kube-openstack/incoming

  # What is there now, then exit (for a systemd timer)
  kube-openstack watch /var/lib/kube-openstack/incoming --once";

pub const COMPLETION: &str = "\
Examples:
  # bash, for the current shell, then for every new one
  source <(kube-openstack completion bash)
  kube-openstack completion bash > /etc/bash_completion.d/kube-openstack

  # zsh (a directory of $fpath)
  kube-openstack completion zsh > \"${fpath[1]}/_kube-openstack\"

  # fish
  kube-openstack completion fish \\
    > ~/.config/fish/completions/kube-openstack.fish";

pub const MAN: &str = "\
Examples:
  # Read it now
  kube-openstack man | man -l -

  # Install a page per command
  kube-openstack man --dir /usr/local/share/man/man1";
