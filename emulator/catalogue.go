package emulator

import (
	"strconv"
	"strings"

	"github.com/fleetscore/fleetscore"
)

// The fleet-wide control catalogue. Every tenant draws its controls from the
// same catalogue (core controls such as AdminMFAV2 at nearly every tenant,
// the long tail at some), so a cross-tenant view of "which action is open at
// the most tenants" is meaningful. The catalogue does not depend on the seed:
// like Microsoft's, it is the same for everyone.

// kind says which optional count/total/on fields a control's score carries.
type kind uint8

const (
	kindBinary kind = iota // implemented or not; no extra fields
	kindUsers              // "count"/"total": share of users or items compliant; partial scores
	kindOn                 // "on": "true"/"false"
	kindCount              // "count" without "total" (OneAdmin, RoleOverlap)
)

// control is one entry of the catalogue: everything Graph says about a control
// that is the same at every tenant.
type control struct {
	id                 string
	category           string
	service            string
	title              string
	maxScore           int
	kind               kind
	weight             float64 // how likely a tenant has it
	difficulty         float64 // fleet-wide part of how often it is left open, 0..1
	rankKey            float64 // Microsoft's stack rank, lower first
	tier               string
	userImpact         string
	cost               string
	actionType         string
	actionURL          string
	threats            []string
	description        string
	remediation        string
	remediationImpact  string
	silentStatus       bool   // implementationStatus is always ""
	svcIndex           int    // small number per service, for per-workload sync times
	scoreHead          []byte // {"controlCategory":…,"controlName":…,"description":…,
	streamIntro        int64  // stream controls: first day (Unix days) present
	streamRetire       int64  // stream controls: first day no longer present
	streamK            int64  // stream controls: index in the stream
	isStream           bool
	affectsAdminsOnly  bool // kindUsers: total is a handful of admins, not all users
	countImplementedHi bool // kindCount: implemented means count >= 2 (admins), else count == 0 (exposures)
}

type baseEntry struct {
	id, cat, svc string
	max          int
	k            kind
	title        string
}

// baseCatalogue lists real-looking controls, in the spirit of what Graph returns.
func baseCatalogue() []baseEntry {
	const (
		I, D, V, A, N = fleetscore.CategoryIdentity, fleetscore.CategoryData, fleetscore.CategoryDevice, fleetscore.CategoryApps, fleetscore.CategoryInfrastructure
	)
	return []baseEntry{
		{"AdminMFAV2", I, "AzureAD", 10, kindUsers, "Ensure multifactor authentication is enabled for all users in administrative roles"},
		{"MFARegistrationV2", I, "AzureAD", 9, kindUsers, "Ensure all users can complete multifactor authentication"},
		{"BlockLegacyAuthentication", I, "AzureAD", 8, kindBinary, "Enable Conditional Access policies to block legacy authentication"},
		{"SigninRiskPolicy", I, "AzureAD", 7, kindBinary, "Enable Microsoft Entra ID Identity Protection sign-in risk policies"},
		{"UserRiskPolicy", I, "AzureAD", 7, kindBinary, "Enable Microsoft Entra ID Identity Protection user risk policies"},
		{"SelfServicePasswordReset", I, "AzureAD", 1, kindOn, "Enable self-service password reset"},
		{"PWAgePolicyNew", I, "AzureAD", 8, kindOn, "Set the password expiration policy to never expire"},
		{"OneAdmin", I, "AzureAD", 1, kindCount, "Designate more than one global admin"},
		{"RoleOverlap", I, "AzureAD", 1, kindCount, "Use least privileged administrative roles"},
		{"IntegratedApps", I, "AzureAD", 4, kindOn, "Do not allow users to grant consent to unreliable applications"},
		{"PasswordHashSync", I, "AzureAD", 5, kindOn, "Enable password hash sync if hybrid"},
		{"aad_admin_consent_workflow", I, "AzureAD", 1, kindOn, "Turn on admin consent workflow"},
		{"aad_limited_administrative_roles", I, "AzureAD", 1, kindCount, "Use limited administrative roles"},
		{"aad_password_protection", I, "AzureAD", 1, kindOn, "Enable Microsoft Entra ID password protection"},
		{"aad_sign_in_freq_session_timeout", I, "AzureAD", 7, kindBinary, "Ensure sign-in frequency is enabled and browser sessions are not persistent for administrative users"},
		{"aad_third_party_integrated_apps", I, "AzureAD", 3, kindOn, "Ensure third party integrated applications are not allowed"},
		{"aad_guest_invite_restrictions", I, "AzureAD", 1, kindOn, "Ensure that only users in administrative roles can invite guests"},
		{"aad_phishing_MFA_strength", I, "AzureAD", 8, kindUsers, "Ensure phishing-resistant MFA strength is required for administrators"},
		{"aad_custom_banned_passwords", I, "AzureAD", 1, kindOn, "Enable custom banned passwords"},
		{"aad_linkedin_connection_disables", I, "AzureAD", 1, kindOn, "Ensure LinkedIn account connections are disabled"},
		{"aad_managed_device_registration", I, "AzureAD", 4, kindBinary, "Ensure a managed device is required to register security information"},
		{"aad_admin_accounts_separate_unassigned_cloud_only", I, "AzureAD", 3, kindUsers, "Ensure administrative accounts are cloud-only"},
		{"aad_smart_lockout", I, "AzureAD", 1, kindOn, "Ensure the account lockout threshold is set to 10 or fewer"},
		{"aad_block_device_code_flow", I, "AzureAD", 5, kindBinary, "Block device code flow"},
		{"aad_sspr_auth_methods", I, "AzureAD", 1, kindOn, "Ensure the number of methods required to reset is set to 2"},
		{"aad_guest_access_restricted", I, "AzureAD", 1, kindOn, "Ensure guest user access is restricted"},
		{"aad_user_consent_verified_publishers", I, "AzureAD", 3, kindOn, "Allow user consent only for apps from verified publishers"},
		{"aad_pim_approval_global_admin", I, "AzureAD", 5, kindBinary, "Ensure approval is required for Global Administrator role activation"},
		{"aad_emergency_access_accounts", I, "AzureAD", 3, kindCount, "Ensure two emergency access accounts have been defined"},
		{"aad_number_matching", I, "AzureAD", 5, kindOn, "Ensure number matching is enabled for Microsoft Authenticator"},
		{"AATP_DefenderForIdentityIsNotInstalled", I, "MDI", 5, kindBinary, "Start your Defender for Identity deployment, installing Sensors on Domain Controllers and other eligible servers"},
		{"mdi_unsecure_kerberos_delegation", I, "MDI", 5, kindCount, "Remove unsecure Kerberos delegation"},
		{"mdi_print_spooler_dc", I, "MDI", 3, kindCount, "Disable Print spooler service on domain controllers"},
		{"mdi_dormant_entities_sensitive_groups", I, "MDI", 3, kindCount, "Remove dormant accounts from sensitive groups"},
		{"mdi_lateral_movement_paths", I, "MDI", 5, kindCount, "Reduce lateral movement path risk to sensitive entities"},
		{"mdi_cleartext_credentials", I, "MDI", 3, kindCount, "Stop clear text credentials exposure"},
		{"mdi_unsecure_sid_history", I, "MDI", 3, kindCount, "Remove unsecure SID history attributes from entities"},
		{"mdi_laps_usage", I, "MDI", 5, kindUsers, "Install LAPS on all domain-joined computers"},
		{"mdi_weak_cipher", I, "MDI", 3, kindCount, "Stop weak cipher usage"},

		{"dlp_datalossprevention", D, "MIP", 5, kindOn, "Create DLP policies"},
		{"mip_search_auditlog", D, "MIP", 3, kindOn, "Ensure Microsoft 365 audit log search is Enabled"},
		{"mip_autosensitivitylabelspolicies", D, "MIP", 4, kindOn, "Apply sensitivity labels automatically"},
		{"mip_sensitivitylabelspolicies", D, "MIP", 3, kindOn, "Ensure sensitivity labels are published"},
		{"dlp_teams_policies", D, "MIP", 3, kindOn, "Extend DLP policies to Microsoft Teams"},
		{"CustomerLockBoxEnabled", D, "MIP", 1, kindOn, "Turn on customer lockbox feature"},
		{"spo_idle_session_timeout", D, "SharePoint", 1, kindOn, "Ensure idle session timeout is set to 3 hours or less"},
		{"spo_legacy_auth", D, "SharePoint", 6, kindOn, "Ensure modern authentication for SharePoint applications is required"},
		{"spo_external_sharing_restricted", D, "SharePoint", 2, kindOn, "Ensure SharePoint external sharing is managed through domain allow/deny lists"},
		{"spo_guest_user_reshare", D, "SharePoint", 1, kindOn, "Ensure that external users cannot share files, folders, and sites they do not own"},
		{"spo_onedrive_sync_domain_restriction", D, "SharePoint", 1, kindOn, "Ensure OneDrive sync is restricted for unmanaged devices"},
		{"spo_sharing_link_default", D, "SharePoint", 1, kindOn, "Ensure the default sharing link permission is set to view"},
		{"spo_infected_file_download_blocked", D, "SharePoint", 3, kindOn, "Ensure Office 365 SharePoint infected files are disallowed for download"},
		{"spo_guest_access_expire", D, "SharePoint", 2, kindOn, "Ensure guest access to a site or OneDrive will expire automatically"},
		{"mip_retention_policies", D, "MIP", 3, kindOn, "Create retention policies"},
		{"mip_insider_risk", D, "MIP", 5, kindBinary, "Create an insider risk policy"},

		{"mdo_safeattachments", A, "MDO", 8, kindUsers, "Create Safe Attachments policies for email traffic"},
		{"mdo_safelinksforOfficeApps", A, "MDO", 8, kindUsers, "Turn on Safe Links for Office apps"},
		{"mdo_safelinksforemail", A, "MDO", 8, kindUsers, "Create Safe Links policies for email messages"},
		{"mdo_atpprotection", A, "MDO", 8, kindOn, "Turn on Microsoft Defender for Office 365 in SharePoint, OneDrive, and Microsoft Teams"},
		{"mdo_safedocuments", A, "MDO", 5, kindOn, "Turn on Safe Documents for Office clients"},
		{"mdo_mailboxintelligenceprotection", A, "MDO", 8, kindUsers, "Enable the 'If mailbox intelligence detects an impersonated user' action"},
		{"mdo_targeteduserprotection", A, "MDO", 8, kindUsers, "Enable impersonated user protection"},
		{"mdo_targeteddomainprotection", A, "MDO", 8, kindUsers, "Enable impersonated domain protection"},
		{"mdo_phishthresholdlevel", A, "MDO", 8, kindUsers, "Set the phishing email level threshold at 2 or higher"},
		{"mdo_spoofintelligence", A, "MDO", 8, kindUsers, "Set action to take on spoof detection"},
		{"mdo_zapspam", A, "MDO", 9, kindUsers, "Ensure that Zero-hour auto purge for spam is enabled"},
		{"mdo_zapphish", A, "MDO", 9, kindUsers, "Ensure that Zero-hour auto purge for phishing is enabled"},
		{"mdo_zapmalware", A, "MDO", 9, kindUsers, "Ensure that Zero-hour auto purge for malware is enabled"},
		{"mdo_commonattachmentsfilter", A, "MDO", 5, kindUsers, "Ensure the common attachment types filter is enabled"},
		{"mdo_highconfidencespamaction", A, "MDO", 9, kindUsers, "Set action to take on high confidence spam detection"},
		{"mdo_bulkspamaction", A, "MDO", 9, kindUsers, "Set action to take on bulk spam detection"},
		{"mdo_autoforwardingmode", A, "MDO", 8, kindOn, "Ensure all forms of mail forwarding are blocked and/or disabled"},
		{"mdo_allowedsenderscombined", A, "MDO", 9, kindOn, "Ensure allowed senders and domains are not used"},
		{"exo_mailboxaudit", A, "EXO", 5, kindUsers, "Ensure mailbox auditing for all users is Enabled"},
		{"exo_storageproviderrestricted", A, "EXO", 2, kindOn, "Ensure additional storage providers are restricted in Outlook on the web"},
		{"exo_outlookaddins", A, "EXO", 1, kindOn, "Ensure users installing Outlook add-ins is not allowed"},
		{"exo_individualsharing", A, "EXO", 1, kindOn, "Ensure calendar details sharing with external users is disabled"},
		{"exo_transportrules_whitelist", A, "EXO", 3, kindCount, "Ensure mail transport rules do not allow specific domains"},
		{"exo_oauth2clientprofileenabled", A, "EXO", 5, kindOn, "Ensure modern authentication for Exchange Online is enabled"},
		{"exo_smtpclientauthenticationdisabled", A, "EXO", 3, kindOn, "Ensure SMTP AUTH is disabled"},
		{"exo_dkim_enabled", A, "EXO", 3, kindOn, "Ensure DKIM is enabled for all Exchange Online domains"},
		{"exo_dmarc_published", A, "EXO", 3, kindOn, "Ensure DMARC records are published for all Exchange Online domains"},
		{"exo_spf_published", A, "EXO", 2, kindOn, "Ensure SPF records are published for all Exchange Online domains"},
		{"McasFirewallLogUpload", A, "MCAS", 5, kindBinary, "Discover trends in shadow IT application usage"},
		{"mca_app_governance_enabled", A, "MCAS", 3, kindOn, "Turn on app governance"},
		{"mca_connect_office365", A, "MCAS", 3, kindOn, "Connect Microsoft 365 to Microsoft Defender for Cloud Apps"},
		{"mca_session_policies", A, "MCAS", 5, kindBinary, "Create session policies for unmanaged devices"},
		{"meeting_autoadmitusers_v1", A, "Teams", 1, kindOn, "Only people in my org can bypass the lobby"},
		{"meeting_externalparticipantscontrol_v1", A, "Teams", 1, kindOn, "Restrict anonymous users from starting Teams meetings"},
		{"teams_external_access_restricted", A, "Teams", 2, kindOn, "Ensure external domains are restricted in the Teams admin center"},
		{"teams_unmanaged_communication", A, "Teams", 2, kindOn, "Ensure communication with unmanaged Teams users is disabled"},
		{"teams_external_file_sharing", A, "Teams", 2, kindOn, "Ensure external file sharing in Teams is enabled for only approved cloud storage services"},
		{"forms_phishing_protection", A, "Forms", 1, kindOn, "Ensure internal phishing protection for Forms is enabled"},
		{"bookings_restricted", A, "Bookings", 1, kindOn, "Ensure shared bookings pages are restricted to select users"},

		{"intune_windows_compliance", V, "Intune", 5, kindUsers, "Create a Microsoft Intune compliance policy for Windows"},
		{"intune_ios_compliance", V, "Intune", 5, kindUsers, "Create a Microsoft Intune compliance policy for iOS"},
		{"intune_android_compliance", V, "Intune", 5, kindUsers, "Create a Microsoft Intune compliance policy for Android"},
		{"intune_macos_compliance", V, "Intune", 3, kindUsers, "Create a Microsoft Intune compliance policy for macOS"},
		{"intune_app_protection_ios", V, "Intune", 5, kindUsers, "Create a Microsoft Intune app protection policy for iOS"},
		{"intune_app_protection_android", V, "Intune", 5, kindUsers, "Create a Microsoft Intune app protection policy for Android"},
		{"intune_device_config_windows", V, "Intune", 3, kindOn, "Create a Microsoft Intune configuration profile for Windows"},
		{"intune_noncompliant_mark", V, "Intune", 1, kindOn, "Mark devices with no compliance policy assigned as noncompliant"},
		{"intune_enrollment_restrictions", V, "Intune", 2, kindOn, "Ensure device enrollment for personal devices is blocked"},

		{"mdc_defender_for_servers", N, "MDC", 5, kindOn, "Enable Microsoft Defender for Servers"},
		{"mdc_mfa_owner_permissions", N, "MDC", 5, kindUsers, "Accounts with owner permissions on Azure resources should be MFA enabled"},
		{"mdc_storage_secure_transfer", N, "MDC", 2, kindUsers, "Secure transfer to storage accounts should be enabled"},
		{"mdc_vm_endpoint_protection", N, "MDC", 3, kindUsers, "Install endpoint protection solution on virtual machines"},
	}
}

// mdeTitles are Defender for Endpoint recommendations; they become scid_NNNN Device controls.
func mdeTitles() []string {
	return []string{
		"Turn on Microsoft Defender Antivirus PUA protection in block mode",
		"Update Microsoft Defender Antivirus definitions",
		"Turn on real-time protection",
		"Turn on cloud-delivered protection",
		"Enable 'Local Security Authority (LSA) protection'",
		"Block executable content from email client and webmail",
		"Block all Office applications from creating child processes",
		"Block credential stealing from the Windows local security authority subsystem",
		"Block Office applications from injecting code into other processes",
		"Block JavaScript or VBScript from launching downloaded executable content",
		"Block execution of potentially obfuscated scripts",
		"Block Win32 API calls from Office macros",
		"Block untrusted and unsigned processes that run from USB",
		"Block persistence through WMI event subscription",
		"Block process creations originating from PSExec and WMI commands",
		"Use advanced protection against ransomware",
		"Block abuse of exploited vulnerable signed drivers",
		"Turn on Microsoft Defender Firewall",
		"Secure Microsoft Defender Firewall domain profile",
		"Secure Microsoft Defender Firewall private profile",
		"Secure Microsoft Defender Firewall public profile",
		"Enable Microsoft Defender Antivirus email scanning",
		"Enable Microsoft Defender Antivirus scanning of removable drives",
		"Turn on tamper protection",
		"Encrypt all BitLocker-supported drives",
		"Disable 'Autoplay' for all drives",
		"Disable SMBv1 client driver",
		"Disable SMBv1 server",
		"Set 'Minimum password length' to '14 or more character(s)'",
		"Disable 'Anonymous enumeration of shares'",
		"Enable 'Require additional authentication at startup'",
		"Set controlled folder access to enabled or audit mode",
		"Turn on PowerShell script block logging",
		"Disable 'Solicited Remote Assistance'",
		"Set User Account Control (UAC) to automatically deny elevation requests",
		"Disable the local storage of passwords and credentials",
		"Enable Network Protection",
		"Update Google Chrome",
		"Update Microsoft Edge",
		"Update Microsoft 365 Apps",
		"Update Windows 11",
		"Update Windows Server 2022",
		"Fix OpenSSL vulnerabilities",
		"Update Adobe Acrobat Reader",
		"Update Zoom",
		"Update 7-Zip",
		"Update Mozilla Firefox",
		"Update Oracle Java",
		"Turn on Microsoft Defender for Endpoint sensor",
		"Fix Microsoft Defender for Endpoint impaired communications",
		"Fix Microsoft Defender for Endpoint sensor data collection",
		"Enable EDR in block mode",
		"Turn on Microsoft Defender Antivirus behavior monitoring",
		"Block macros from running in Office files from the Internet",
		"Set 'Interactive logon: Machine inactivity limit' to '900 or fewer second(s)'",
		"Disable 'Allow Basic authentication' for WinRM Client",
		"Disable 'Enumerate administrator accounts on elevation'",
		"Enable 'Microsoft network client: Digitally sign communications (always)'",
		"Disable IP source routing",
		"Set LAN Manager authentication level to 'Send NTLMv2 response only. Refuse LM & NTLM'",
		"Disable 'Continue running background apps when Google Chrome is closed'",
		"Block outdated ActiveX controls for Internet Explorer",
		"Disable JavaScript on Adobe DC",
		"Disable Flash on Adobe Reader DC",
		"Enable 'Apply UAC restrictions to local accounts on network logons'",
		"Disable 'Installation and configuration of Network Bridge on your DNS domain network'",
	}
}

// generatedFamilies extend the catalogue with plausible controls built from
// a prefix, an object and a verb ("aad_access_reviews_enabled").
type family struct {
	cat, svc, prefix string
	objects          []string
	verbs            []string
}

func generatedFamilies() []family {
	return []family{
		{fleetscore.CategoryIdentity, "AzureAD", "aad_", []string{
			"access_reviews", "app_registration", "break_glass_accounts", "certificate_auth", "conditional_access_locations",
			"cross_tenant_access", "device_join", "external_collaboration", "group_owner_consent", "passwordless_sign_in",
			"pim_activation", "risky_sign_ins", "security_defaults", "service_principal_credentials", "stale_accounts",
			"temporary_access_pass", "tenant_creation", "token_lifetime", "workload_identities", "authentication_strength",
		}, []string{"enabled", "reviewed", "restricted", "required"}},
		{fleetscore.CategoryApps, "EXO", "exo_", []string{
			"external_tagging", "shared_mailbox_sign_in", "remote_domain_forwarding", "connection_filter", "outbound_spam_notifications",
			"mailtips", "owa_offline_access", "customer_lockbox_requests", "journal_rules", "admin_audit_log",
		}, []string{"enabled", "restricted", "configured"}},
		{fleetscore.CategoryApps, "MDO", "mdo_", []string{
			"quarantine_notifications", "preset_security_policies", "attack_simulation", "priority_account_protection", "safe_senders",
			"user_reported_messages", "tenant_allow_block_list", "first_contact_safety_tip", "honor_dmarc_policy", "intra_org_filtering",
		}, []string{"enabled", "configured", "reviewed"}},
		{fleetscore.CategoryApps, "Teams", "teams_", []string{
			"guest_access", "meeting_recording", "anonymous_join", "channel_email", "third_party_apps", "presenter_role",
		}, []string{"restricted", "disabled", "reviewed"}},
		{fleetscore.CategoryApps, "MCAS", "mca_", []string{
			"oauth_app_policies", "impossible_travel", "activity_policies", "mass_download_alerts", "unsanctioned_apps",
		}, []string{"enabled", "configured"}},
		{fleetscore.CategoryData, "MIP", "mip_", []string{
			"label_encryption", "default_label", "mandatory_labeling", "label_analytics", "exact_data_match",
			"trainable_classifiers", "communication_compliance", "ediscovery_holds", "records_management", "container_labels",
		}, []string{"enabled", "published", "configured"}},
		{fleetscore.CategoryData, "SharePoint", "spo_", []string{
			"anyone_links_expiry", "site_creation", "custom_script", "unmanaged_device_access", "external_user_expiration", "version_history",
		}, []string{"restricted", "enabled", "configured"}},
		{fleetscore.CategoryDevice, "Intune", "intune_", []string{
			"windows_update_rings", "defender_baseline", "bitlocker_policy", "laps_policy", "firewall_policy", "asr_rules",
			"edge_baseline", "autopilot_profile", "ios_update_policy", "android_work_profile",
		}, []string{"assigned", "configured"}},
		{fleetscore.CategoryInfrastructure, "MDC", "mdc_", []string{
			"sql_auditing", "key_vault_purge_protection", "storage_public_access", "nsg_management_ports", "jit_vm_access",
			"diagnostic_logs", "kubernetes_rbac", "container_registry_scanning", "app_service_https", "subnet_nsg",
		}, []string{"enabled", "restricted", "configured"}},
	}
}

// streamFamilies name the controls Microsoft adds to (and later retires from)
// Secure Score over time; disjoint from the stable names.
func streamFamilies() (prefixes, cats, svcs, objects, qualifiers []string) {
	prefixes = []string{"aad_", "mdo_", "exo_", "mip_", "mca_", "intune_", "mdc_", "teams_"}
	cats = []string{fleetscore.CategoryIdentity, fleetscore.CategoryApps, fleetscore.CategoryApps, fleetscore.CategoryData,
		fleetscore.CategoryApps, fleetscore.CategoryDevice, fleetscore.CategoryInfrastructure, fleetscore.CategoryApps}
	svcs = []string{"AzureAD", "MDO", "EXO", "MIP", "MCAS", "Intune", "MDC", "Teams"}
	objects = []string{"copilot_access", "ai_agent_permissions", "token_protection", "app_instance_lock", "passkey_registration",
		"continuous_access_evaluation", "identity_secure_score_sync", "session_cookie_binding", "data_security_posture",
		"oauth_consent_monitoring", "protected_actions", "shadow_ai_discovery", "email_bomb_protection", "qr_code_phishing",
		"device_bound_tokens", "workload_risk_policy"}
	qualifiers = []string{"enabled", "enforced", "required", "blocked", "reviewed", "monitored", "restricted", "configured",
		"v2", "preview", "audit", "default"}
	return
}

func actionURLFor(service string) string {
	switch service {
	case "AzureAD":
		return "https://entra.microsoft.com/#view/Microsoft_AAD_ConditionalAccess/ConditionalAccessBlade/~/Policies"
	case "MDI", "MDATP":
		return "https://security.microsoft.com/securescore?viewid=actions"
	case "MIP":
		return "https://purview.microsoft.com/datalossprevention/policies"
	case "SharePoint":
		return "https://admin.microsoft.com/sharepoint?page=sharing&modern=true"
	case "MDO":
		return "https://security.microsoft.com/threatpolicy"
	case "EXO":
		return "https://admin.exchange.microsoft.com/#/settings"
	case "MCAS":
		return "https://security.microsoft.com/cloudapps/settings"
	case "Teams":
		return "https://admin.teams.microsoft.com/meetings/policies"
	case "Intune":
		return "https://intune.microsoft.com/#view/Microsoft_Intune_DeviceSettings/DevicesComplianceMenu/~/policies"
	case "MDC":
		return "https://portal.azure.com/#view/Microsoft_Azure_Security/SecurityMenuBlade/~/5"
	default:
		return "https://admin.microsoft.com/#/Settings/Services"
	}
}

// serviceIndex numbers the services (workloads) for lastSynced.
func serviceIndex(service string) int {
	for i, s := range []string{"AzureAD", "MDI", "MIP", "SharePoint", "MDO", "EXO", "MCAS", "Teams", "Intune", "MDC", "MDATP", "Forms", "Bookings"} {
		if s == service {
			return i
		}
	}
	return 15
}

// catalogue is the fleet-wide list, built once per Emulator.
type catalogue struct {
	controls []*control
	byID     map[string]*control
}

func newCatalogue() *catalogue {
	cat := &catalogue{byID: map[string]*control{}}
	add := func(c *control, weight float64) {
		c.weight = weight
		finishControl(c, strHash(c.id))
		cat.controls = append(cat.controls, c)
		cat.byID[c.id] = c
	}
	for i, b := range baseCatalogue() {
		// The first controls of each area are the ones every tenant has.
		w := 3.0
		if i%3 == 2 {
			w = 1.5
		}
		add(&control{id: b.id, category: b.cat, service: b.svc, maxScore: b.max, kind: b.k, title: b.title}, w)
	}
	for i, t := range mdeTitles() {
		x := strHash(t)
		k := kindUsers
		if pick(x, 4) == 0 {
			k = kindCount
		}
		add(&control{id: "scid_" + strconv.Itoa(2000+i*7+pick(x, 7)), category: fleetscore.CategoryDevice, service: "MDATP",
			maxScore: between(h1(x, 1), 1, 10), kind: k, title: t}, 0.9)
	}
	for _, f := range generatedFamilies() {
		for _, v := range f.verbs {
			for _, o := range f.objects {
				id := f.prefix + o + "_" + v
				x := strHash(id)
				k := []kind{kindBinary, kindOn, kindOn, kindUsers}[pick(x, 4)]
				add(&control{id: id, category: f.cat, service: f.svc, maxScore: between(h1(x, 2), 1, 10), kind: k,
					title: titleFrom(o, v)}, 0.6)
			}
		}
	}
	return cat
}

// titleFrom turns ("access_reviews", "enabled") into "Ensure access reviews are enabled".
func titleFrom(object, verb string) string {
	words := strings.ReplaceAll(object, "_", " ")
	be := " is "
	if strings.HasSuffix(words, "s") {
		be = " are "
	}
	return "Ensure " + words + be + verb
}

// finishControl derives the descriptive attributes of a control from its hash
// and renders its static JSON.
func finishControl(c *control, x uint64) {
	tiers := [...]string{"Core", "Defense in Depth", "Advanced"}
	impacts := [...]string{"Low", "Moderate", "High"}
	actionTypes := [...]string{"Config", "Review", "Behavior"}
	threatNames := [...]string{"Account breach", "Data exfiltration", "Data deletion", "Data spillage", "Elevation of privilege",
		"Malicious insider", "Password cracking", "Phishing", "Spoofing", "Malware", "Ransomware", "Lateral movement", "Credential theft"}
	c.difficulty = unit(h1(x, saltDifficulty))
	c.rankKey = unit(h1(x, 11))*100 + float64(10-c.maxScore)*4 // Microsoft ranks high-impact controls first
	c.tier = tiers[[]int{0, 0, 0, 1, 1, 2}[pick(h1(x, 12), 6)]]
	c.userImpact = impacts[[]int{0, 0, 0, 1, 1, 2}[pick(h1(x, 13), 6)]]
	c.cost = impacts[[]int{0, 0, 1, 1, 1, 2}[pick(h1(x, 14), 6)]]
	c.actionType = actionTypes[[]int{0, 0, 0, 0, 1, 2}[pick(h1(x, 15), 6)]]
	c.actionURL = actionURLFor(c.service)
	c.svcIndex = serviceIndex(c.service)
	n := pick(h1(x, 16), 4) // 0..3 threats
	for i := 0; i < n; i++ {
		t := threatNames[pick(h1(x, 17+uint64(i)), len(threatNames))]
		if !containsString(c.threats, t) {
			c.threats = append(c.threats, t)
		}
	}
	if c.threats == nil {
		c.threats = []string{}
	}
	c.affectsAdminsOnly = strings.Contains(strings.ToLower(c.title), "admin")
	c.countImplementedHi = c.id == "OneAdmin" || strings.Contains(c.id, "emergency")
	c.silentStatus = pick(h1(x, 21), 5) == 0

	lead := ""
	if pick(h1(x, 22), 3) == 0 {
		lead = "\n\t" // real descriptions often start with whitespace
	}
	what := strings.ToLower(c.title[:1]) + c.title[1:]
	var threat string
	if len(c.threats) > 0 {
		threat = " This reduces the risk of " + strings.ToLower(c.threats[0]) + "."
	}
	switch pick(h1(x, 23), 4) {
	case 0:
		c.description = lead + "<p>" + c.title + "." + threat + "</p>"
	case 1:
		c.description = lead + "Microsoft recommends that you " + what + "." + threat
	case 2:
		c.description = lead + c.title + "."
	default:
		c.description = lead + "<p>You should " + what + ". Attackers look for tenants where this is not done.</p>"
	}
	c.remediation = "<p>To " + what + ":</p><ol><li>Sign in to the <a href=\"" + c.actionURL + "\" target=\"_blank\">admin portal</a>.</li>" +
		"<li>Open the policy settings for " + c.service + ".</li><li>Apply the recommended configuration and save.</li></ol>"
	switch c.userImpact {
	case "Low":
		c.remediationImpact = "Users will not be affected by this change."
	case "Moderate":
		c.remediationImpact = "Some users may be prompted to take an action or notice a change in behavior."
	default:
		c.remediationImpact = "<p>Users will be affected: communicate the change before you make it.</p>"
	}

	b := append([]byte(nil), `{"controlCategory":`...)
	b = appendJSONString(b, c.category)
	b = append(b, `,"controlName":`...)
	b = appendJSONString(b, c.id)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, c.description)
	b = append(b, ',')
	c.scoreHead = b
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
